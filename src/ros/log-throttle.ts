/** Keeps a per-message log line (a bad payload at 200 Hz) from flooding the log: one line per key per interval. */
import type { Logger } from '../fastsocket';

export class LogThrottle {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 5000,
    private readonly nowMs: () => number = () => performance.now(),
    private readonly maxKeys = 1000,
  ) {}

  warn(key: string, message: string): void {
    const now = this.nowMs();
    const entry = this.last.get(key);
    if (entry && now - entry.atMs < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suffix = entry && entry.suppressed > 0 ? ` (${entry.suppressed} similar lines suppressed)` : '';
    if (!entry && this.last.size >= this.maxKeys) this.last.delete(this.last.keys().next().value as string);
    this.last.set(key, { atMs: now, suppressed: 0 });
    this.logger.warn(message + suffix);
  }
}
