import { strict as assert } from 'node:assert';
import { RosError } from '../../src/ros/errors';
import { loadRclnodejs, rosUnavailableReason } from '../../src/ros/rclnodejs-port';

/** The environment of a shell where ROS 2 was never sourced. */
function withoutRos(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME };
}

describe('loadRclnodejs', () => {
  describe('#without ROS 2 sourced', () => {
    it('throws RosError FS_ROS_ERR_UNAVAILABLE without touching rclnodejs when ROS 2 is not sourced', () => {
      assert.throws(() => loadRclnodejs(withoutRos()), (e: unknown) => e instanceof RosError && e.code === 'FS_ROS_ERR_UNAVAILABLE');
    });

    it('reports a missing librcl when ROS_DISTRO is set but the libraries are not on the path', () => {
      assert.match(rosUnavailableReason({ ROS_DISTRO: 'jazzy', LD_LIBRARY_PATH: '/nonexistent' }) ?? '', /librcl/);
    });
  });
});
