// Topic creation on Kafka (TITAN_KAFKA_CREATE_TOPICS): the settings, and that a bus asked to create its
// topics does so before producing. The local mock broker cannot create topics through the admin API (it
// names a controller that does not exist), so here the creation fails: the publish fails with it and no
// Produce request goes out, rather than the topic being auto-created with the broker's defaults.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTitanError } from '../../kit/index.ts';
import { stackSetting, uniqueId } from '../../kit/testing.ts';
import { loadEventsConfig } from '../config.ts';
import { KafkaBus } from '../kafka-bus.ts';
import { testEvent } from './buses.ts';
import { PRODUCE, requestTap } from './kafka-wire.ts';

test('topic creation settings: off by default, replication factor 3, min.insync.replicas 2', () => {
  const c = loadEventsConfig({ TITAN_BUS: 'kafka', TITAN_KAFKA_BROKERS: 'k1:9092' });
  assert.equal(c.TITAN_KAFKA_CREATE_TOPICS, false);
  assert.equal(c.TITAN_KAFKA_REPLICATION_FACTOR, 3);
  assert.equal(c.TITAN_KAFKA_MIN_INSYNC_REPLICAS, 2);
  assert.throws(
    () => loadEventsConfig({ TITAN_KAFKA_REPLICATION_FACTOR: '2', TITAN_KAFKA_MIN_INSYNC_REPLICAS: '3' }),
    (err: unknown) =>
      isTitanError(err) &&
      err.code === 'CONFIG_INVALID' &&
      /TITAN_KAFKA_MIN_INSYNC_REPLICAS/.test(err.message),
  );
});

test('a bus that creates its topics does so before producing; a failed creation produces nothing', async () => {
  const apis: number[] = [];
  const make = (createTopics: boolean) =>
    new KafkaBus({
      brokers: stackSetting('TITAN_KAFKA_BROKERS').split(','),
      clientId: uniqueId('create-topics-'),
      ...(createTopics
        ? { createTopics: { partitions: 4, replicationFactor: 3, minInsyncReplicas: 2 } }
        : {}),
      kafka: { socketFactory: requestTap((api) => apis.push(api)), retry: { retries: 1 } },
    });
  const topic = uniqueId('create-topics-');
  const creating = make(true);
  try {
    await assert.rejects(creating.publish(topic, [testEvent('k', 0)]), /not found|controller/i);
  } finally {
    await creating.close();
  }
  assert.ok(!apis.includes(PRODUCE), 'nothing produced to a topic that could not be created');

  const plain = make(false);
  try {
    await plain.publish(topic, [testEvent('k', 0)]);
  } finally {
    await plain.close();
  }
  assert.ok(apis.includes(PRODUCE), 'without createTopics the same publish goes out (auto-created topic)');
});
