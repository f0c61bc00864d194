#!/usr/bin/env node
/** Entry point of the demo `talker`: std_msgs/msg/String on `chatter` at `rate_hz`, since ROS 2 ships no demo nodes here. */
import { ParamReader, positive } from '../ros/params';
import { DEFAULT_QOS } from '../ros/qos';
import { STRING } from '../ros/ros-messages';
import { runNode } from './run-node';

void runNode('talker', 'talker', (node) => {
  const params = new ParamReader(node);
  const rateHz = params.double('rate_hz', 10.0, 'Messages per second.', positive);
  const text = params.string('message', 'Hello World', 'Text before the counter.');
  const publisher = node.createPublisher(STRING, 'chatter', DEFAULT_QOS);
  let count = 0;
  const timer = node.createTimer(1000 / rateHz, () => publisher.publish({ data: `${text}: ${count++}` }));
  node.logger.info(`publishing on ${publisher.topic} at ${rateHz} Hz`);
  return {
    close: () => {
      timer.cancel();
      return Promise.resolve();
    },
  };
});
