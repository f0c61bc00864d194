import { strict as assert } from 'node:assert';
import { chooseSubscriptionQos, qos } from '../../src/ros/qos';

describe('chooseSubscriptionQos', () => {
  describe('#matching publishers', () => {
    it('subscribes reliable and volatile when the publishers are reliable and volatile', () => {
      assert.deepEqual(chooseSubscriptionQos({}, [qos('reliable', 'volatile', 10)]), qos('reliable', 'volatile', 100));
    });

    it('queues at least 100 messages of a volatile topic, so a 100 Hz topic survives the bridge converting a camera frame', () => {
      assert.equal(chooseSubscriptionQos({}, [qos('reliable', 'volatile', 10)]).depth, 100);
      assert.equal(chooseSubscriptionQos({}, [qos('best_effort', 'volatile', 5)]).depth, 100);
      assert.equal(chooseSubscriptionQos({}, [qos('reliable', 'volatile', 500)]).depth, 500);
      assert.equal(chooseSubscriptionQos({ reliability: 'reliable', durability: 'volatile' }, []).depth, 100);
      assert.equal(chooseSubscriptionQos({ durability: 'transient_local' }, [qos('reliable', 'volatile', 10)]).depth, 10);
      assert.equal(chooseSubscriptionQos({ depth: 7 }, [qos('reliable', 'volatile', 10)]).depth, 7);
    });

    it('subscribes best-effort when any publisher is best-effort, since a reliable reader would hear nothing from it', () => {
      assert.equal(chooseSubscriptionQos({}, [qos('reliable', 'volatile', 10), qos('best_effort', 'volatile', 5)]).reliability, 'best_effort');
    });

    it('subscribes transient-local when every publisher is transient-local, so latched messages arrive', () => {
      assert.equal(chooseSubscriptionQos({}, [qos('reliable', 'transient_local', 1)]).durability, 'transient_local');
    });

    it('stays volatile when one publisher is volatile, since a transient-local reader cannot match it', () => {
      assert.equal(chooseSubscriptionQos({}, [qos('reliable', 'transient_local', 1), qos('reliable', 'volatile', 10)]).durability, 'volatile');
    });

    it('takes the deepest publisher queue, up to a cap', () => {
      assert.equal(chooseSubscriptionQos({}, [qos('reliable', 'transient_local', 100)]).depth, 100);
      assert.equal(chooseSubscriptionQos({}, [qos('reliable', 'transient_local', 1e6)]).depth, 1000);
    });

    it('holds every transient-local publisher\'s history at once (twelve latching /tf_static publishers: 12), up to the cap', () => {
      const latching = Array.from({ length: 12 }, () => qos('reliable', 'transient_local', 1));
      assert.equal(chooseSubscriptionQos({}, latching).depth, 12);
      assert.equal(chooseSubscriptionQos({}, [qos('reliable', 'transient_local', 600), qos('reliable', 'transient_local', 600)]).depth, 1000);
    });

    it('takes the deepest queue, not the sum, when the publishers are volatile (their histories are not replayed)', () => {
      assert.equal(chooseSubscriptionQos({}, Array.from({ length: 12 }, () => qos('reliable', 'volatile', 200))).depth, 200);
    });

    it('uses the ROS default reliability and durability when there are no publishers', () => {
      assert.deepEqual(chooseSubscriptionQos({}, []), qos('reliable', 'volatile', 100));
    });
  });

  describe('#explicit settings', () => {
    it('lets the user win over what the publishers offer', () => {
      assert.deepEqual(chooseSubscriptionQos({ reliability: 'reliable', depth: 3 }, [qos('best_effort', 'transient_local', 50)]), qos('reliable', 'transient_local', 3));
    });
  });
});
