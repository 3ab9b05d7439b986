// The test stack's Kafka-protocol broker speaks the real wire protocol: kafkajs produces to it and a
// consumer group reads back what was produced. A private mock cluster is controlled through its socket.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { stackSetting, uniqueId } from '../../services/kit/testing.ts';
import { StackErrors } from './errors.ts';
import { KafkaBroker } from './kafka-broker.ts';
import { portOpen, which } from './os-tools.ts';

test('kafkajs produces to and consumes from the test stack broker with a consumer group', async () => {
  const kafka = new Kafka({
    clientId: 'stack-test',
    brokers: stackSetting('TITAN_KAFKA_BROKERS').split(','),
    logLevel: logLevel.NOTHING,
  });
  const topic = uniqueId('topic-');
  // librdkafka 2.0's mock cluster reports a controller id that does not exist, so kafkajs' admin
  // createTopics fails against it; the mock auto-creates a topic (4 partitions) on first produce.
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: uniqueId('group-') });
  const received: string[] = [];
  const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
  try {
    await producer.connect();
    await producer.send({ topic, messages: sent.map((value, i) => ({ key: `k${i % 4}`, value })) });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of 20 arrived`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          received.push(String(message.value));
          if (received.length === sent.length) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await producer.disconnect();
    await consumer.disconnect();
  }
  assert.deepEqual([...received].sort(), [...sent].sort());
});

test('the test stack broker is reachable through KafkaBroker.ofTestStack (read only here)', () => {
  assert.deepEqual(KafkaBroker.ofTestStack().bootstrap(), stackSetting('TITAN_KAFKA_BROKERS').split(','));
});

test('a private mock cluster takes a broker down and up through its control socket', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'titan-kafka-control-'));
  const broker = new KafkaBroker(which('gcc'), dataDir, 3);
  try {
    await broker.start();
    const kafka = new Kafka({
      clientId: 'control-test',
      brokers: broker.bootstrap()!,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    const { brokers } = await admin.describeCluster();
    await admin.disconnect();
    const port = (id: number) => brokers.find((b) => b.nodeId === id)!.port;
    assert.deepEqual(brokers.map((b) => b.nodeId).sort(), [1, 2, 3]);

    await broker.setBrokerDown(2, true);
    assert.equal(await portOpen(port(2)), false, 'a down broker refuses connections');
    assert.equal(await portOpen(port(1)), true, 'the others still accept them');
    await broker.setBrokerDown(2, false);
    assert.equal(await portOpen(port(2)), true, 'it accepts them again once up, on the same port');

    await broker.createTopic('control-topic', 5, 3);
    await assert.rejects(
      broker.createTopic('control-topic', 5, 3),
      StackErrors.STACK_KAFKA_CONTROL_FAILED.is,
    );
    await assert.rejects(broker.setBrokerDown(7, true), StackErrors.STACK_KAFKA_CONTROL_FAILED.is);
    await assert.rejects(broker.createTopic('bad name', 1, 1), StackErrors.STACK_KAFKA_CONTROL_FAILED.is);
  } finally {
    await broker.stop();
  }
  await assert.rejects(broker.setBrokerDown(2, true), StackErrors.STACK_NOT_RUNNING.is);
  rmSync(dataDir, { recursive: true, force: true });
});
