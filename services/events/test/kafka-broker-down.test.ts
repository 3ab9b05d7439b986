// Kafka across brokers: a cell outbox relay publishes 3,000 events to the Kafka bus on a 3-broker
// cluster (topic with replication factor 3, every Produce request with acks -1, checked on the wire) while
// the broker leading a third of the partitions is down for 4 s. Every outbox event ends up on the topic,
// in order per aggregate, duplicates only, never a gap:
// - leadership left on the down broker (the mock never moves it): the relay stalls on the unacknowledged
//   batch and resumes when the broker is back;
// - leadership moved to a surviving replica (what a real cluster's controller does): the relay keeps going.
// The cluster is a PRIVATE mock cluster: the test stack's broker, shared with other test files, is untouched.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, type TestContext, test } from 'node:test';
import { KafkaBroker } from '../../../deploy/local/kafka-broker.ts';
import { which } from '../../../deploy/local/os-tools.ts';
import { outboxKey } from '../../../lua/keys.ts';
import { createRedis, type Logger } from '../../kit/index.ts';
import { stackSetting, uniqueId } from '../../kit/testing.ts';
import { CellOutboxRelay, relayCursorKey } from '../cell-outbox-relay.ts';
import { KafkaBus } from '../kafka-bus.ts';
import { decodeOutboxEntry } from '../outbox-records.ts';
import { sleep, waitFor } from './buses.ts';
import { PRODUCE, produceAcks, requestTap } from './kafka-wire.ts';

const RESERVATIONS = 1500; // a created and a committed event each: 3,000 events
const LAG = 10; // reservation i is committed right after reservation i + LAG is created
const PARTITIONS = 6;
const DOWN = 2; // leads partitions 1 and 4 (leaders are set to p % 3 + 1)

const dataDir = mkdtempSync(join(tmpdir(), 'titan-kafka-down-'));
const broker = new KafkaBroker(which('gcc'), dataDir, 3);
const redis = createRedis(stackSetting('TITAN_REDIS_URL'));
before(() => broker.start());
after(async () => {
  await broker.setBrokerDown(DOWN, false).catch(() => {});
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
  redis.disconnect();
});

interface Outage {
  /** Move the down broker's partitions to surviving replicas while it is down. */
  moveLeaders: boolean;
}

async function relayThroughOutage(t: TestContext, { moveLeaders }: Outage): Promise<void> {
  const brokers = broker.bootstrap();
  assert.equal(brokers?.length, 3, 'a 3-broker cluster');
  const topic = uniqueId('broker-down-');
  await broker.createTopic(topic, PARTITIONS, 3);
  for (let p = 0; p < PARTITIONS; p++) await broker.setPartitionLeader(topic, p, (p % 3) + 1);

  const acks = new Set<number>();
  const bus = new KafkaBus({
    brokers: brokers!,
    clientId: uniqueId('broker-down-'),
    sessionTimeoutMs: 6000,
    heartbeatMs: 300,
    rebalanceTimeoutMs: 8000,
    joinTimeoutMs: 60_000,
    maxWaitMs: 300,
    kafka: { socketFactory: requestTap((api, req) => api === PRODUCE && acks.add(produceAcks(req))) },
  });
  const admin = bus.kafka.admin();
  await admin.connect();
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.disconnect();
  const partitions = topics[0]!.partitions;
  assert.equal(partitions.length, PARTITIONS);
  for (const p of partitions) {
    assert.equal(p.replicas.length, 3, `partition ${p.partitionId} has 3 replicas`);
    assert.equal(p.isr.length, 3, `partition ${p.partitionId} has 3 in-sync replicas`);
  }
  const led = partitions.filter((p) => p.leader === DOWN).map((p) => p.partitionId);
  assert.deepEqual(led.sort(), [1, 4], `broker ${DOWN} leads partitions 1 and 4`);

  const cell = 1000 + Math.floor(Math.random() * 60_000);
  const stream = outboxKey(String(cell));
  let failedRounds = 0;
  const log = { error: () => failedRounds++, warn: () => {} } as unknown as Logger;
  const relay = new CellOutboxRelay({
    cell,
    redis,
    bus,
    log,
    topicOf: () => topic,
    batchSize: 250,
    pollMs: 10,
  });
  const cursor = async () => Number((await redis.hget(relayCursorKey(cell), 'n')) ?? 0);
  const total = 2 * RESERVATIONS;

  // The "Lua scripts": reservation.created / .committed records appended over ~5 s.
  const writer = (async () => {
    const rec = (i: number) => `sale1|${i}|u${i % 97}|1`;
    for (let from = 0; from < RESERVATIONS + LAG; from += 60) {
      const pipe = redis.pipeline();
      for (let i = from; i < Math.min(from + 60, RESERVATIONS + LAG); i++) {
        if (i < RESERVATIONS)
          pipe.xadd(stream, '*', 'reservation.created', `${rec(i)}|${Date.now() + 60_000}`);
        if (i >= LAG) pipe.xadd(stream, '*', 'reservation.committed', rec(i - LAG));
      }
      await pipe.exec();
      await sleep(200);
    }
  })();

  try {
    relay.start();
    await waitFor('the relay to be under way', async () => (await cursor()) >= 300, 20_000);
    await broker.setBrokerDown(DOWN, true);
    const atDown = await cursor();
    if (moveLeaders) for (const p of led) await broker.setPartitionLeader(topic, p, (DOWN % 3) + 1);
    await sleep(1000); // a batch in flight when the broker went down has finished or is stuck by now
    const duringDown = await cursor();
    await sleep(3000);
    const beforeUp = await cursor();
    await broker.setBrokerDown(DOWN, false);
    const upAt = Date.now();
    assert.ok(atDown < total, `the broker went down mid-stream (cursor at ${atDown} of ${total})`);
    if (moveLeaders) assert.ok(beforeUp > duringDown, 'the relay goes on while the broker is down');
    else assert.equal(beforeUp, duringDown, 'no batch is acknowledged while a partition leader is down');

    await writer;
    await waitFor('the relay to resume and reach the end', async () => (await cursor()) === total, 40_000);
    t.diagnostic(
      `cursor ${atDown} at down, ${duringDown}..${beforeUp} while down; ${total} ${Date.now() - upAt} ms after up; ${failedRounds} relay rounds failed`,
    );
    assert.deepEqual(await relay.lag(), { entries: 0, oldestAgeMs: 0 });
  } finally {
    await relay.stop();
  }
  assert.deepEqual([...acks], [-1], 'every Produce request asked for acks from all in-sync replicas');

  // Read the whole topic back with a consumer group and dedupe by event id.
  const entries = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
  assert.equal(entries.length, total);
  const expected = new Set(
    entries.flatMap(([id, fields]) => decodeOutboxEntry(cell, id, fields).map((e) => e.id)),
  );
  const firstSeen = new Map<string, string[]>(); // reservation -> event types in first-arrival order
  const seen = new Set<string>();
  let deliveries = 0;
  let unknown = 0;
  const sub = await bus.subscribe({
    topic,
    group: uniqueId('broker-down-reader-'),
    fromBeginning: true,
    handler: (e) => {
      deliveries++;
      if (!expected.has(e.id)) unknown++;
      if (seen.has(e.id)) return;
      seen.add(e.id);
      const { reservationId } = e.payload as { reservationId: string };
      firstSeen.set(reservationId, [...(firstSeen.get(reservationId) ?? []), e.type]);
    },
  });
  try {
    await waitFor('every event read back', () => seen.size >= expected.size, 40_000);
    await sleep(300);
  } finally {
    await sub.close();
    await bus.close();
    await redis.del(stream, relayCursorKey(cell));
  }
  t.diagnostic(`${deliveries} deliveries, ${seen.size} distinct events`);
  assert.equal(unknown, 0, 'nothing on the topic that is not in the outbox');
  assert.equal(seen.size, expected.size, 'every outbox event is on the topic');
  assert.ok(deliveries >= total, `${deliveries} deliveries for ${total} events (duplicates allowed)`);
  assert.equal(firstSeen.size, RESERVATIONS);
  for (const [reservation, types] of firstSeen) {
    assert.deepEqual(types, ['reservation.created', 'reservation.committed'], `${reservation} in order`);
  }
}

test('a partition leader down mid-relay: the relay stalls, resumes when it is back, no event lost', (t) =>
  relayThroughOutage(t, { moveLeaders: false }));

test('leadership moved off the down broker: the relay goes on, no event lost', (t) =>
  relayThroughOutage(t, { moveLeaders: true }));
