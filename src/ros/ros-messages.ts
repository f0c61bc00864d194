/**
 * The standard messages the nodes publish (no custom .msg, so any ROS 2 tool can read them), as plain objects in
 * the shape rclnodejs publishes.
 */
import type { LatencySummary } from '../fastsocket';

export const FLOAT64 = 'std_msgs/msg/Float64';
export const DIAGNOSTIC_ARRAY = 'diagnostic_msgs/msg/DiagnosticArray';
export const METRICS_MESSAGE = 'statistics_msgs/msg/MetricsMessage';
export const STRING = 'std_msgs/msg/String';

/** diagnostic_msgs/DiagnosticStatus levels. */
export const DiagnosticLevel = Object.freeze({ OK: 0, WARN: 1, ERROR: 2, STALE: 3 });
export type DiagnosticLevelValue = (typeof DiagnosticLevel)[keyof typeof DiagnosticLevel];

/** statistics_msgs/StatisticDataType. */
const StatisticDataType = Object.freeze({ AVERAGE: 1, MINIMUM: 2, MAXIMUM: 3, STDDEV: 4, SAMPLE_COUNT: 5 });

export interface TimeMsg {
  sec: number;
  nanosec: number;
}

export interface DiagnosticStatusMsg {
  level: DiagnosticLevelValue;
  name: string;
  message: string;
  hardware_id: string;
  values: Array<{ key: string; value: string }>;
}

/** Wall-clock ns since the epoch as builtin_interfaces/Time. */
export function timeMsg(wallNs: number): TimeMsg {
  const sec = Math.floor(wallNs / 1e9);
  return { sec, nanosec: Math.min(999_999_999, Math.max(0, Math.round(wallNs - sec * 1e9))) };
}

/**
 * `<node name>: link`, the status of a node's connection(s); its other statuses are `<node name>: <topic>`, as
 * diagnostic_updater names a node's statuses, so two nodes renamed apart (`-r __node:=`) do not publish statuses of
 * one name, which aggregators and monitors key on.
 */
export function linkStatusName(nodeName: string): string {
  return `${nodeName}: link`;
}

/** Values are stringified as DiagnosticStatus requires; numbers keep at most 3 decimals. */
export function diagnosticStatus(
  name: string, level: DiagnosticLevelValue, message: string, hardwareId: string, values: Record<string, string | number | boolean | null>,
): DiagnosticStatusMsg {
  return {
    level,
    name,
    message,
    hardware_id: hardwareId,
    values: Object.entries(values).map(([key, v]) => ({ key, value: formatValue(v) })),
  };
}

export function diagnosticArray(wallNs: number, status: DiagnosticStatusMsg[]): object {
  return { header: { stamp: timeMsg(wallNs), frame_id: '' }, status };
}

/** A window of latency samples (ns) as statistics_msgs/MetricsMessage in milliseconds. */
export function latencyMetrics(source: string, windowStartNs: number, windowStopNs: number, s: LatencySummary): object {
  return {
    measurement_source_name: source,
    metrics_source: 'latency_corrected',
    unit: 'ms',
    window_start: timeMsg(windowStartNs),
    window_stop: timeMsg(windowStopNs),
    statistics: [
      { data_type: StatisticDataType.AVERAGE, data: s.count > 0 ? s.mean / 1e6 : NaN },
      { data_type: StatisticDataType.MINIMUM, data: s.count > 0 ? s.min / 1e6 : NaN },
      { data_type: StatisticDataType.MAXIMUM, data: s.count > 0 ? s.max / 1e6 : NaN },
      { data_type: StatisticDataType.STDDEV, data: s.count > 0 ? s.stddev / 1e6 : NaN },
      { data_type: StatisticDataType.SAMPLE_COUNT, data: s.count },
    ],
  };
}

function formatValue(v: string | number | boolean | null): string {
  if (v === null) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  return String(v);
}
