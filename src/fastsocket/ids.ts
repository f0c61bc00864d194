/**
 * Message ids: random (version 4) UUIDs, made by `uuid` from a 64 KiB pool of random bytes refilled once every
 * 4,096 ids.
 *
 * Why a pool of our own: without options, uuid's v4() calls Node's crypto.randomUUID, which refills a 2 KiB buffer
 * every 128 ids, so one message in 128 paid for a refill on the client's send path. Paired one-in-flight runs (tcp
 * 100 B, blocks of 500 exchanges alternating the two in one client, 4 x 40,000 exchanges) gave RTT p99
 * 167.5/170.4/166.1/178.5 us with this pool against 194.4/187.1/195.7/196.2 us, and p50 within 2 us.
 */
import { randomFillSync } from 'node:crypto';
import { v4 as uuidv4 } from 'uuid';

const ID_BYTES = 16;
const POOL_BYTES = 4096 * ID_BYTES;

const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;
/** The 16 bytes of the next id; uuid sets its version and variant bits in place. */
const random = new Uint8Array(ID_BYTES);
const options = { random };

/** A new random (version 4) UUID, lower-case, e.g. `"9b2e1c4a-6f0d-4e8b-a1c3-5d7f9e2b4a60"`. */
export function newMessageId(): string {
  if (offset === POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  pool.copy(random, 0, offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return uuidv4(options);
}
