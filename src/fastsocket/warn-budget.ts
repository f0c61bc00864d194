/**
 * A peer controls how often some warnings are written (a bad frame between good ones never reaches max_bad_frames in
 * a row; a refused connection costs a connect; a peer that reconnects in a loop gets a fresh connection's budget each
 * time): a budget keeps them from flooding the log while every line still reaches the debug level.
 */
import { Logger } from './logger';

/** The window a budget is counted over. */
export const WARN_BUDGET_WINDOW_MS = 10_000;

export class WarnBudget {
  private windowStartMs = -Infinity;
  private warned = 0;
  private demoted = 0;

  /**
   * @param perWindow warnings written per window; the rest of the window's lines are logged at debug level.
   * @param nowMs monotonic ms; injectable for tests.
   * @param shared a budget this one's warnings also draw on (a server's for all its connections), so that many
   *   budgets together stay within its perWindow too.
   */
  constructor(
    private readonly perWindow: number,
    private readonly nowMs: () => number = () => performance.now(),
    private readonly shared?: WarnBudget,
  ) {}

  /** Logs `message` as a warning while the budget lasts, else at debug; the next warning says how many went to debug. */
  warn(logger: Logger, message: string): void {
    this.log(logger, 'warn', message);
  }

  /** As warn, at the info level: the lines a peer writes by connecting at all, which it can do in a loop. */
  info(logger: Logger, message: string): void {
    this.log(logger, 'info', message);
  }

  private log(logger: Logger, level: 'info' | 'warn', message: string): void {
    if (!this.take()) {
      logger.debug(message);
      return;
    }
    const demoted = this.takeDemoted();
    const kind = level === 'warn' ? 'warnings' : 'lines';
    logger[level](demoted > 0 ? `${message} (${demoted} ${kind} like it before this one went to the debug level)` : message);
  }

  /** Whether one more warning fits in this window, here and in the shared budget; a line that does not is counted. */
  private take(): boolean {
    const now = this.nowMs();
    if (now - this.windowStartMs >= WARN_BUDGET_WINDOW_MS) {
      this.windowStartMs = now;
      this.warned = 0;
    }
    if (this.warned >= this.perWindow) {
      this.demoted++;
      return false;
    }
    if (this.shared && !this.shared.take()) return false;
    this.warned++;
    return true;
  }

  private takeDemoted(): number {
    const demoted = this.demoted + (this.shared?.takeDemoted() ?? 0);
    this.demoted = 0;
    return demoted;
  }
}
