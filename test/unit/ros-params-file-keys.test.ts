import { strict as assert } from 'node:assert';
import { ignoredParamsFileKeys, paramsFiles, shadowedCommandLineParams } from '../../src/ros/params-file-keys';

describe('params-file-keys', () => {
  describe('#paramsFiles', () => {
    it('returns the --params-file paths of the --ros-args sections only', () => {
      assert.deepEqual(paramsFiles(['node', 'x.js', '--params-file', 'no.yaml', '--ros-args', '-r', '__node:=b', '--params-file', 'a.yaml', '--',
        '--params-file', 'not.yaml', '--ros-args', '--params-file', 'b.yaml']), ['a.yaml', 'b.yaml']);
    });
  });

  describe('#ignoredParamsFileKeys', () => {
    const files: Record<string, string> = {
      'dump.yaml': '/fastsocket_bridge:\n  ros__parameters:\n    url: "tcp://10.0.0.1:8888"\n',
      'ns.yaml': '/veh/fastsocket_bridge:\n  ros__parameters:\n    url: "x"\n/**/fastsocket_bridge:\n  ros__parameters:\n    url: "y"\n',
      'global.yaml': '/**:\n  ros__parameters:\n    url: "x"\n/fastsocket_bridge:\n  ros__parameters:\n    url: "y"\n',
      'bare.yaml': 'fastsocket_bridge:\n  ros__parameters:\n    url: "x"\n',
      'other.yaml': 'fastsocket_server:\n  ros__parameters:\n    url: "x"\n',
      'broken.yaml': '[',
      // What launch_ros writes for `parameters=[{'topics': ['/chatter']}]` (loopback.launch.py), here with a namespace.
      'launch.yaml': '/fastsocket_bridge:\n  ros__parameters:\n    topics: !!python/tuple\n    - /chatter\n',
    };
    const check = (file: string, name = 'fastsocket_bridge', fqn = `/${name}`): string[] =>
      ignoredParamsFileKeys(['node', 'b.js', '--ros-args', '--params-file', file], name, fqn, (p) => files[p]);

    it('warns about a key naming the node by its full name, which rclcpp applies and rclnodejs ignores', () => {
      assert.deepEqual(check('dump.yaml'), [
        'params file dump.yaml: key "/fastsocket_bridge" is ignored (rclnodejs applies only "/**" and the bare node name); key it "fastsocket_bridge:" or "/**:"',
      ]);
    });

    it('matches namespaces and the wildcards * and ** as rclcpp does', () => {
      assert.equal(check('ns.yaml', 'fastsocket_bridge', '/veh/fastsocket_bridge').length, 2);
      assert.equal(check('ns.yaml').length, 1);
    });

    it('says nothing when /** or the bare name applies, since the file then configures the node', () => {
      assert.deepEqual(check('global.yaml'), []);
      assert.deepEqual(check('bare.yaml'), []);
    });

    it('warns when no key of the file is for the node (a renamed node, a file for another node)', () => {
      assert.deepEqual(check('bare.yaml', 'veh_bridge'), [
        'params file bare.yaml has no key for this node (veh_bridge), only "fastsocket_bridge", so none of it applies; key it "veh_bridge:" or "/**:"',
      ]);
      assert.equal(check('other.yaml').length, 1);
    });

    it('reads a file launch_ros wrote for a list parameter without a YAML warning on stderr (!!python/tuple)', async () => {
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(w.message);
      process.on('warning', onWarning);
      try {
        assert.equal(check('launch.yaml').length, 1, 'its keys are read');
        await new Promise(setImmediate); // process.emitWarning emits on the next tick
      } finally {
        process.off('warning', onWarning);
      }
      assert.deepEqual(warnings, []);
    });

    it('passes over a file it cannot read or parse', () => {
      assert.deepEqual(check('broken.yaml'), []);
      assert.deepEqual(ignoredParamsFileKeys(['n', '--ros-args', '--params-file', '/no/such/file.yaml'], 'a', '/a'), []);
    });
  });

  describe('#shadowedCommandLineParams', () => {
    const files: Record<string, string> = {
      'bare.yaml': 'fastsocket_bridge:\n  ros__parameters:\n    url: "tcp://10.0.0.1:8888"\n    topic_options:\n      fix:\n        max_rate_hz: 5.0\n',
      'global.yaml': '/**:\n  ros__parameters:\n    url: "tcp://10.0.0.1:8888"\n',
    };
    const check = (...rosArgs: string[]): string[] =>
      shadowedCommandLineParams(['node', 'b.js', '--ros-args', ...rosArgs], 'fastsocket_bridge', (p) => files[p]);

    it('warns, naming the file and the fix, when -p sets what the file sets under the bare node name, which rclnodejs applies over it', () => {
      assert.deepEqual(check('--params-file', 'bare.yaml', '-p', 'url:=tcp://10.0.0.2:9999'), [
        '-p url:=tcp://10.0.0.2:9999 on the command line does not apply: params file bare.yaml sets url under "fastsocket_bridge:", which ' +
          'rclnodejs applies over every "/**" value, the command line\'s included; write -p fastsocket_bridge:url:=tcp://10.0.0.2:9999',
      ]);
    });

    it('finds nested keys, and --param as well as -p, before or after the file', () => {
      assert.equal(check('--param', 'topic_options.fix.max_rate_hz:=2.0', '--params-file', 'bare.yaml').length, 1);
    });

    it('says nothing when the value is the file\'s, the file is keyed /**, or -p names the node', () => {
      assert.deepEqual(check('--params-file', 'bare.yaml', '-p', 'url:="tcp://10.0.0.1:8888"', '-p', 'topic_options.fix.max_rate_hz:=5.0'), []);
      assert.deepEqual(check('--params-file', 'global.yaml', '-p', 'url:=tcp://10.0.0.2:9999'), []);
      assert.deepEqual(check('--params-file', 'bare.yaml', '-p', 'fastsocket_bridge:url:=tcp://10.0.0.2:9999'), []);
      assert.deepEqual(check('--params-file', 'bare.yaml', '-p', 'client_id:=veh_1'), []);
    });
  });
});
