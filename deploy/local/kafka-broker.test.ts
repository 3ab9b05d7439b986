// The test stack's Kafka-protocol broker speaks the real wire protocol: kafkajs produces to it and a
// consumer group reads back what was produced.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { stackSetting, uniqueId } from '../../services/kit/testing.ts';

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
