import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnknownTypeError } from '../../src/ros/errors';
import { BUILTIN_MSG_TEXTS, Ros1MessageCatalog, ros1MsgSearchPath, ros1PackagePathRoots } from '../../src/ros1/msg-catalog';
import { buildFullText, MsgSyntaxError, parseFullText, parseRos1Msg, ros1Md5 } from '../../src/ros1/msg-spec';
import { ROS1_TEST_TEXTS } from '../support/ros1-msgs';

const catalog = new Ros1MessageCatalog([], ROS1_TEST_TEXTS);
const lookup = (t: string) => catalog.spec(t);

describe('ROS 1 msg-spec', () => {
  describe('#parseRos1Msg', () => {
    it('reads fields, arrays and constants and skips comments when given a .msg text', () => {
      const spec = parseRos1Msg('pkg/Thing', [
        '# a comment line',
        'uint8 OK=0  # constant with a comment',
        'string GREETING = hi # not a comment',
        'Header header',
        'byte level',
        'char[4] code   # trailing comment',
        'float64[] values',
        'Other other',
        'geometry_msgs/Vector3[] vs',
      ].join('\n'));
      assert.deepEqual(spec.constants, [
        { type: 'uint8', name: 'OK', valueText: '0' },
        { type: 'string', name: 'GREETING', valueText: 'hi # not a comment' },
      ]);
      assert.deepEqual(spec.fields.map((f) => [f.name, f.type, f.primitive, f.array, f.size]), [
        ['header', 'std_msgs/Header', false, 'none', undefined],
        ['level', 'byte', true, 'none', undefined],
        ['code', 'char', true, 'fixed', 4],
        ['values', 'float64', true, 'dynamic', undefined],
        ['other', 'pkg/Other', false, 'none', undefined],
        ['vs', 'geometry_msgs/Vector3', false, 'dynamic', undefined],
      ]);
      assert.deepEqual(spec.dependencies, ['std_msgs/Header', 'pkg/Other', 'geometry_msgs/Vector3']);
    });

    it('throws MsgSyntaxError naming the line when a line is not "type name"', () => {
      assert.throws(() => parseRos1Msg('pkg/Bad', 'string data\nuint8[x] broken'), (err: unknown) => err instanceof MsgSyntaxError && err.line === 2);
      assert.throws(() => parseRos1Msg('pkg/Bad', 'lonely'), MsgSyntaxError);
    });
  });

  describe('#parseFullText', () => {
    it('splits a connection header definition into one spec per type when given sections', () => {
      const full = buildFullText('sensor_msgs/Imu', lookup);
      const specs = parseFullText('sensor_msgs/Imu', full);
      assert.deepEqual([...specs.keys()].sort(), ['geometry_msgs/Quaternion', 'geometry_msgs/Vector3', 'sensor_msgs/Imu', 'std_msgs/Header']);
      assert.deepEqual(specs.get('std_msgs/Header')?.fields.map((f) => f.name), ['seq', 'stamp', 'frame_id']);
    });
  });

  describe('#buildFullText', () => {
    it('writes each dependency once, after the type itself, when types repeat', () => {
      const full = buildFullText('sensor_msgs/Imu', lookup);
      assert.equal(full.split('\n')[0], 'Header header');
      assert.equal(full.match(/^MSG: geometry_msgs\/Vector3$/gm)?.length, 1);
      assert.equal(full.match(/^={80}$/gm)?.length, 3);
    });
  });

  describe('#ros1Md5', () => {
    // The sums a real ROS 1 (rostopic, roscpp) announces for these types.
    const known: Record<string, string> = {
      'std_msgs/String': '992ce8a1687cec8c8bd883ec73ca41d1',
      'std_msgs/Float64': 'fdb28210bfa9d7c91146260178d9a584',
      'std_msgs/Header': '2176decaecbce78abc3b96ef049fabed',
      'sensor_msgs/Imu': '6a62c6daae103f4ff57a132d6f95cec2',
      'diagnostic_msgs/DiagnosticArray': '60810da900de1dd6ddd437c3503511da',
      'rosgraph_msgs/Log': 'acffd30cd6b6de30f120938c17c593fb',
    };
    for (const [type, sum] of Object.entries(known)) {
      it(`gives ROS 1's md5sum for ${type} when hashing byte fields and constants as written`, () => {
        assert.equal(ros1Md5(type, lookup), sum);
      });
    }
  });
});

describe('Ros1MessageCatalog', () => {
  describe('#spec', () => {
    it('throws UnknownTypeError naming the type when no definition is found', () => {
      assert.throws(() => new Ros1MessageCatalog([], {}).spec('nope_msgs/Nothing'), (err: unknown) => err instanceof UnknownTypeError && err.type === 'nope_msgs/Nothing');
    });

    it('serves the types the nodes publish without any message package installed', () => {
      const bare = new Ros1MessageCatalog([]);
      for (const t of Object.keys(BUILTIN_MSG_TEXTS)) assert.ok(bare.fullText(t).length > 0);
    });
  });

  // docs/ros1.md: "Message definitions are read from ROS_PACKAGE_PATH". A catkin workspace's src folder, which is what
  // ROS_PACKAGE_PATH names, holds repositories that hold packages (src/<repo>/<pkg>/msg): rospack finds those at any
  // depth, and the server found only src/<pkg>/msg, so it refused the types of a workspace's message packages.
  describe('with a ROS_PACKAGE_PATH folder of nested packages', () => {
    let root: string;
    beforeEach(() => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-ros1-pkgs-'));
      const pkg = (dir: string, name: string, msgs: Record<string, string>) => {
        fs.mkdirSync(path.join(root, dir, 'msg'), { recursive: true });
        fs.writeFileSync(path.join(root, dir, 'package.xml'), `<?xml version="1.0"?>\n<package format="2">\n  <name>${name}</name>\n</package>\n`);
        for (const [file, text] of Object.entries(msgs)) fs.writeFileSync(path.join(root, dir, 'msg', file), text);
      };
      pkg('vehicle_repo/vehicle_msgs', 'vehicle_msgs', { 'Status.msg': 'uint8 mode\nfloat64 speed\n' });
      pkg('other_repo/deeper/renamed_dir', 'lidar_msgs', { 'Scan.msg': 'float32[] ranges\n' });
      pkg('ignored_repo/hidden_msgs', 'hidden_msgs', { 'Nope.msg': 'int32 x\n' });
      fs.writeFileSync(path.join(root, 'ignored_repo', 'CATKIN_IGNORE'), '');
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it('finds a package nested in a repository folder, as rospack does', () => {
      const c = new Ros1MessageCatalog([root], {}, [root]);
      assert.deepEqual(c.spec('vehicle_msgs/Status').fields.map((f) => f.name), ['mode', 'speed']);
    });

    it('names a package by the <name> of its package.xml, not its folder', () => {
      const c = new Ros1MessageCatalog([root], {}, [root]);
      assert.deepEqual(c.spec('lidar_msgs/Scan').fields.map((f) => f.name), ['ranges']);
    });

    it('skips a folder holding CATKIN_IGNORE', () => {
      const c = new Ros1MessageCatalog([root], {}, [root]);
      assert.throws(() => c.spec('hidden_msgs/Nope'), (err: unknown) => err instanceof UnknownTypeError);
    });

    it('crawls the ROS_PACKAGE_PATH entries only, not a ROS 1 prefix or /usr/share', () => {
      assert.deepEqual(ros1PackagePathRoots({ ROS_PACKAGE_PATH: `${root}:/other`, CMAKE_PREFIX_PATH: '/opt/ros/noetic' }), [root, '/other']);
    });
  });

  describe('#learn', () => {
    it('prefers the definition a publisher announced over the local one when both exist', () => {
      const c = new Ros1MessageCatalog([], ROS1_TEST_TEXTS);
      c.learn('std_msgs/String', 'string data\nuint8 extra');
      assert.deepEqual(c.spec('std_msgs/String').fields.map((f) => f.name), ['data', 'extra']);
    });
  });
});

describe('ros1MsgSearchPath', () => {
  it('leaves out a sourced ROS 2 prefix when ROS_VERSION is 2', () => {
    const path = ros1MsgSearchPath({ ROS_PACKAGE_PATH: '/ws/src', CMAKE_PREFIX_PATH: '/opt/ros/jazzy', ROS_VERSION: '2' });
    assert.deepEqual(path, ['/ws/src', '/usr/share']);
  });

  it('includes a sourced ROS 1 prefix when ROS_VERSION is not 2', () => {
    assert.deepEqual(ros1MsgSearchPath({ CMAKE_PREFIX_PATH: '/opt/ros/noetic' }), ['/opt/ros/noetic/share', '/usr/share']);
  });
});
