/**
 * The original project's V2X workload: a Collective Perception Message (ETSI TS 103 324) reporting perceived
 * objects, about 1.4 KB of nested JSON, sent every 5 ms. Values follow the standard's units (cm, cm/s, 0.1 deg,
 * 1e-7 deg) and move with time, so consecutive messages differ as real ones do.
 */

/** Milliseconds between 2004-01-01 (the ITS epoch) and the Unix epoch. */
const ITS_EPOCH_MS = 1_072_915_200_000;

export const CPM_RATE_HZ = 200;

const withConfidence = (value: number, confidence: number) => ({ value, confidence });

/** One perceived object moving on a straight lane at `speedCms`, seen `tMs` after the start. */
function perceivedObject(objectId: number, tMs: number, speedCms: number, lateralCm: number) {
  const x = Math.round(1500 + (speedCms * tMs) / 1000) % 20000;
  const swayCms = Math.round(30 * Math.sin(tMs / 700 + objectId));
  return {
    objectId,
    measurementDeltaTime: -(tMs % 50),
    position: {
      xCoordinate: withConfidence(x, 35),
      yCoordinate: withConfidence(lateralCm + Math.round(swayCms / 10), 40),
      zCoordinate: withConfidence(80, 100),
    },
    velocity: {
      cartesianVelocity: {
        xVelocity: withConfidence(speedCms, 20),
        yVelocity: withConfidence(swayCms, 25),
      },
    },
    acceleration: {
      cartesianAcceleration: {
        xAcceleration: withConfidence(Math.round(5 * Math.cos(tMs / 900)), 10),
        yAcceleration: withConfidence(0, 10),
      },
    },
    angles: { zAngle: withConfidence(900 + Math.round(swayCms / 5), 12) },
    zAngularVelocity: withConfidence(Math.round(swayCms / 10), 4),
    objectDimensionZ: withConfidence(150, 5),
    objectDimensionY: withConfidence(180, 5),
    objectDimensionX: withConfidence(450, 8),
    objectAge: Math.min(2047, tMs),
    objectPerceptionQuality: 12,
    sensorIdList: [1, 2],
    classification: [
      { objectClass: { vehicleSubClass: 'passengerCar' }, confidence: 87 },
    ],
  };
}

/** The CPM sent as message number `seq` of a run at `rateHz`. */
export function cpmMessage(seq: number, rateHz = CPM_RATE_HZ, startWallMs = 1_735_689_600_000): Record<string, unknown> {
  const tMs = Math.round((seq * 1000) / rateHz);
  return {
    header: { protocolVersion: 2, messageId: 14, stationId: 1001 },
    payload: {
      managementContainer: {
        referenceTime: startWallMs - ITS_EPOCH_MS + tMs,
        referencePosition: {
          latitude: 404_167_000 + Math.round(tMs / 10),
          longitude: -37_038_000,
          positionConfidenceEllipse: { semiMajorAxisLength: 50, semiMinorAxisLength: 30, semiMajorAxisOrientation: 900 },
          altitude: { altitudeValue: 65_700, altitudeConfidence: 'alt-001-00' },
        },
      },
      cpmContainers: [
        {
          containerId: 1,
          originatingVehicleContainer: { orientationAngle: withConfidence(900, 2), pitchAngle: withConfidence(0, 4) },
        },
        {
          containerId: 5,
          perceivedObjectContainer: { numberOfPerceivedObjects: 1, perceivedObjects: [perceivedObject(seq % 256, tMs, 1389, 175)] },
        },
      ],
    },
  };
}
