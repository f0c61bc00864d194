/**
 * A peer controls how often some warnings are written (a bad frame between good ones never reaches max_bad_frames in
 * a row; a refused connection costs a connect): a budget keeps them from flooding the log while every line still
 * reaches the debug level.
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
   */
  constructor(
    private readonly perWindow: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Logs `message` as a warning while the budget lasts, else at debug; the next warning says how many went to debug. */
  warn(logger: Logger, message: string): void {
    const now = this.nowMs();
    if (now - this.windowStartMs >= WARN_BUDGET_WINDOW_MS) {
      this.windowStartMs = now;
      this.warned = 0;
    }
    if (this.warned >= this.perWindow) {
      this.demoted++;
      logger.debug(message);
      return;
    }
    this.warned++;
    const demoted = this.demoted;
    this.demoted = 0;
    logger.warn(demoted > 0 ? `${message} (${demoted} similar warnings before this one went to the debug level)` : message);
  }
}
