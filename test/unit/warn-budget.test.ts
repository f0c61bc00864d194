import { strict as assert } from 'node:assert';
import { WARN_BUDGET_WINDOW_MS, WarnBudget } from '../../src/fastsocket/warn-budget';

describe('WarnBudget', () => {
  function logged() {
    const lines: string[] = [];
    const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
    return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
  }

  describe('#warn', () => {
    it('warns up to its budget in a window and logs the rest at debug level', () => {
      const { lines, logger } = logged();
      const budget = new WarnBudget(3, () => 0);
      for (let i = 0; i < 5; i++) budget.warn(logger, `line ${i}`);
      assert.deepEqual(lines, ['warn line 0', 'warn line 1', 'warn line 2', 'debug line 3', 'debug line 4']);
    });

    it('warns again in the next window, saying how many lines went to debug level', () => {
      const { lines, logger } = logged();
      let now = 1000;
      const budget = new WarnBudget(1, () => now);
      for (let i = 0; i < 4; i++) budget.warn(logger, `line ${i}`);
      now += WARN_BUDGET_WINDOW_MS - 1;
      budget.warn(logger, 'still the first window');
      now += 1;
      budget.warn(logger, 'next window');
      budget.warn(logger, 'over again');
      assert.deepEqual(lines, [
        'warn line 0',
        'debug line 1',
        'debug line 2',
        'debug line 3',
        'debug still the first window',
        'warn next window (4 warnings like it before this one went to the debug level)',
        'debug over again',
      ]);
    });

    it('draws on a shared budget too, so that many budgets stay within its limit together, and reports lines demoted by either', () => {
      const { lines, logger } = logged();
      let now = 0;
      const shared = new WarnBudget(3, () => now);
      const a = new WarnBudget(2, () => now, shared);
      const b = new WarnBudget(2, () => now, shared);
      a.warn(logger, 'a1');
      a.warn(logger, 'a2');
      a.warn(logger, 'a3 over its own');
      b.warn(logger, 'b1');
      b.warn(logger, 'b2 over the shared');
      shared.warn(logger, 'shared over');
      now += WARN_BUDGET_WINDOW_MS;
      b.warn(logger, 'b3');
      assert.deepEqual(lines, [
        'warn a1',
        'warn a2',
        'debug a3 over its own',
        'warn b1',
        'debug b2 over the shared',
        'debug shared over',
        'warn b3 (2 warnings like it before this one went to the debug level)',
      ]);
    });
  });
});
