/** The memory soak's verdict: judged only after a warm-up long enough to reach the working size, and not on a backlog. */
import { strict as assert } from 'node:assert';
import { minWarmupS, rssVerdict, SOAK_LIMIT_KB, soakStatusText } from '../../bench/soak';
import type { RssSample } from '../../bench/workload';

/** One sample a second for `seconds`, RSS (kB) given by `kbAt(t)` for both processes. */
function samples(seconds: number, kbAt: (t: number) => number): RssSample[] {
  return Array.from({ length: seconds }, (_, t) => ({ t_s: t, server_kb: kbAt(t), client_kb: kbAt(t) }));
}

describe('memory soak verdict', () => {
  const flat = samples(600, () => 100_000);
  const leaking = samples(600, (t) => 100_000 + t * 50);

  it('passes RSS that stays flat after the warm-up and fails RSS that keeps growing', () => {
    assert.equal(rssVerdict(flat, [], 200, 'server', null).status, 'pass');
    const leak = rssVerdict(leaking, [], 200, 'server', null);
    assert.equal(leak.status, 'FAIL');
    assert.ok(leak.growth_kb > SOAK_LIMIT_KB, `growth ${leak.growth_kb} kB`);
  });

  it('ignores a collector spike shorter than the smoothing window', () => {
    const spiky = samples(600, (t) => (t === 400 ? 100_000 + 4 * SOAK_LIMIT_KB : 100_000));
    assert.equal(rssVerdict(spiky, [], 200, 'client', null).status, 'pass');
  });

  it('does not judge a run that could not keep up or whose warm-up ended before the dedup set was full', () => {
    assert.equal(rssVerdict(leaking, [], 200, 'server', 'overloaded').status, 'overloaded');
    assert.equal(rssVerdict(leaking, [], 100, 'server', 'too short').status, 'too short');
  });

  it('needs a warm-up that fills the default dedup set (100,000 ids) and lets it settle', () => {
    assert.equal(minWarmupS(1000), 200);
    assert.equal(minWarmupS(500), 300);
    const text = soakStatusText('too short', SOAK_LIMIT_KB, 100, 1000);
    assert.match(text, /TOO SHORT/);
    assert.match(text, /100 s < 200 s/);
    assert.match(text, /600 s/);
  });
});
