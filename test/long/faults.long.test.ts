/**
 * The long versions of the fault tests (issue 6): 20 server crashes and a 30 s link cut. They run only under
 * `npm run test:long`, which sets FASTSOCKET_LONG=1 (and multiplies the fuzz runs by ten).
 */
import {
  assertCrashWithJournal,
  assertCrashWithoutJournal,
  assertLinkCut,
  crashRestartScenario,
  linkCutScenario,
} from '../support/fault-scenarios';
import type { CutMode } from '../support/delay-proxy';
import { useTeardown } from '../support/teardown';

const LONG = process.env.FASTSOCKET_LONG === '1';

(LONG ? describe : describe.skip)('FastSocketClient and FastSocketServer under long faults (FASTSOCKET_LONG=1)', function () {
  this.timeout(600_000);
  const teardown = useTeardown();

  describe('#send across 20 server crashes', () => {
    it('loses nothing and hands nothing over twice but a message whose journalling a crash cut short, with a stateDir journal', async () => {
      assertCrashWithJournal(await crashRestartScenario(teardown, { restarts: 20, stateDir: true }), 20);
    });

    it('loses nothing without a journal, and marks every repeat resent and possible_duplicate', async () => {
      assertCrashWithoutJournal(await crashRestartScenario(teardown, { restarts: 20, stateDir: false }));
    });
  });

  describe('#send across a 30 s link cut', () => {
    for (const mode of ['hold', 'reset'] as CutMode[]) {
      for (const scheme of ['tcp', 'ws'] as const) {
        it(`loses and duplicates nothing over ${scheme} in '${mode}' mode`, async () => {
          assertLinkCut(await linkCutScenario(teardown, { scheme, mode, cutMs: 30_000 }), mode);
        });
      }
    }
  });
});
