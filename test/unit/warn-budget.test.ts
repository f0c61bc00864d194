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
        'warn next window (4 similar warnings before this one went to the debug level)',
        'debug over again',
      ]);
    });
  });
});
