import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, nodeScript, useRosGraph } from './ros-harness';

/**
 * Field-by-field fidelity on a real graph: every case of fixtures/fidelity_cases.py (integers at their limits, NaN,
 * ±Inf, -0.0, subnormals, combining marks and emoji, byte and char fields, fixed, bounded and empty sequences, nested
 * types with covariances and arrays of messages, a service's event, a 0.9 MB image, a point cloud) published in the
 * vehicle domain, forwarded in json and in cdr encoding
 * by one bridge whose params file lists them all, and compared byte for byte after serialization in the
 * infrastructure domain.
 */
describe('fastsocket ROS 2 message fidelity', function () {
  this.timeout(180_000);
  const graph = useRosGraph('fastsocket-fidelity-');
  const { vehicleDomain, infraDomain, start } = graph;

  it('delivers every field of every case unchanged in json and in cdr encoding', async () => {
    const list = start(`/usr/bin/python3 ${join(FIXTURES, 'fidelity_cases.py')}`, vehicleDomain);
    assert.equal(await list.exited(30_000), 0, list.output());
    const names = JSON.parse(list.output()) as string[];
    const server = start(nodeScript('server', '-p url:=tcp://127.0.0.1:0 -p topic_prefix:=/remote'), infraDomain);
    const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
    const params = join(graph.dir(), 'bridge.yaml');
    writeFileSync(params, [
      '/**:', '  ros__parameters:', `    url: "${url}"`, `    topics: [${names.map((n) => `"/json/${n}"`).join(', ')}]`, '    topic_options:',
      ...names.flatMap((n) => [`      cdr_${n}:`, `        name: "/cdr/${n}"`, '        encoding: "cdr"']), '',
    ].join('\n'));
    start(`/usr/bin/python3 ${join(FIXTURES, 'fidelity_publish.py')}`, vehicleDomain);
    const bridge = start(nodeScript('bridge', `--params-file ${params}`), vehicleDomain);
    const receiver = start(`/usr/bin/python3 ${join(FIXTURES, 'fidelity_receive.py')} /remote`, infraDomain);
    await receiver.waitFor(/\{"done": \d+\}/, 120_000);
    const results = receiver.output().split('\n').filter((l) => l.startsWith('{"topic"')).map((l) => JSON.parse(l) as { topic: string; ok: boolean; diff: string[] });
    assert.equal(results.length, 2 * names.length);
    assert.deepEqual(results.filter((r) => !r.ok), []);
    for (const p of [bridge, server]) assert.doesNotMatch(p.output(), /dropped a message|\[ERROR\]/);
  });
});
