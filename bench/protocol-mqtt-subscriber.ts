/**
 * The MQTT row's application end in its own process: subscribes at QoS 1 and decodes every message, as a bridge's
 * receiving side does. Usage:
 *   node build/bench/protocol-mqtt-subscriber.js --url mqtt://127.0.0.1:PORT --expect N --measured M [--timeout-ms MS]
 * Prints `{"event":"subscribed"}` once the broker acknowledged the subscription, then, after N messages, one
 * 'delivered' line (MqttSubscriberLine) and exits 0. Exit 1 on failure or timeout, 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import { connect } from 'mqtt';
import { hostMonotonicNs, integerArg, MQTT_TOPIC, MqttSubscriberLine } from './protocol-common';

function usage(problem: string): never {
  process.stderr.write(`protocol-mqtt-subscriber: ${problem}\nusage: protocol-mqtt-subscriber.js --url URL --expect N --measured M [--timeout-ms MS]\n`);
  process.exit(2);
}

function print(line: MqttSubscriberLine): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        expect: { type: 'string' },
        measured: { type: 'string' },
        'timeout-ms': { type: 'string', default: '120000' },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (!values.url) usage('--url is required');
  const expect = integerArg('expect', values.expect, 1, usage);
  const measured = integerArg('measured', values.measured, 1, usage);
  if (measured > expect) usage('--measured must not exceed --expect');
  const timeoutMs = integerArg('timeout-ms', values['timeout-ms'], 1, usage);

  let received = 0;
  // The orchestrator stops a subscriber still waiting after the publisher has finished: the broker dropped messages.
  process.on('SIGTERM', () => {
    process.stderr.write(`protocol-mqtt-subscriber: ${received} of ${expect} messages when stopped\n`);
    process.exit(1);
  });
  setTimeout(() => {
    process.stderr.write(`protocol-mqtt-subscriber: ${received} of ${expect} messages after ${timeoutMs} ms\n`);
    process.exit(1);
  }, timeoutMs).unref();

  const client = connect(values.url, { clean: true, reconnectPeriod: 0 });
  client.on('error', (err) => {
    process.stderr.write(`protocol-mqtt-subscriber: ${err.stack ?? String(err)}\n`);
    process.exit(1);
  });
  client.once('connect', () => {
    // As paho (ROS mqtt_client) and every other row's client do; mqtt.js leaves Nagle on.
    (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    client.subscribe(MQTT_TOPIC, { qos: 1 }, (err) => {
      if (err) {
        process.stderr.write(`protocol-mqtt-subscriber: subscribe: ${err.stack ?? String(err)}\n`);
        process.exit(1);
      }
      print({ event: 'subscribed' });
    });
  });
  let cpu = process.cpuUsage();
  client.on('message', (_topic, payload) => {
    JSON.parse(payload.toString('utf8'));
    received++;
    if (received === expect - measured) cpu = process.cpuUsage();
    if (received !== expect) return;
    const lastRead = hostMonotonicNs();
    const { user, system } = process.cpuUsage(cpu);
    print({ event: 'delivered', count: received, last_read_host_ns: lastRead, cpu_us_per_msg: (user + system) / measured });
    // Nothing waits for this process's last PUBACKs or its DISCONNECT (the publisher's come from the broker).
    process.exit(0);
  });
}

main();
