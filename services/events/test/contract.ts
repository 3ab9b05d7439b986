/**
 * The EventBus contract, ONE suite run against every implementation (redis-bus.test.ts, kafka-bus.test.ts):
 * order per key, redelivery after a member dies, dead letter with the error kept, schema rejection naming the
 * field, and a group rebalancing as members join and leave.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRedis } from '../../kit/index.ts';
import { stackSetting, uniqueId } from '../../kit/testing.ts';
import type { DeliveryInfo, EventBus, Subscription } from '../bus.ts';
import { DEAD_LETTER_TYPE, type DeadLetter, deadLetterTopic } from '../catalogue.ts';
import type { EventEnvelope } from '../envelope.ts';
import { type BusKind, seqOf, testEvent, waitFor } from './buses.ts';

const CHILD = fileURLToPath(new URL('./consumer-child.ts', import.meta.url));

/** Checks at-least-once order per key: each seq is first seen only after every smaller seq of its key. */
function assertOrderedPerKey(events: readonly EventEnvelope[]): void {
  const seen = new Map<string, number>();
  for (const e of events) {
    const max = seen.get(e.aggregateId) ?? -1;
    const seq = seqOf(e);
    if (seq <= max) continue; // a redelivery of something already seen
    assert.equal(seq, max + 1, `key ${e.aggregateId}: seq ${seq} arrived before ${max + 1}`);
    seen.set(e.aggregateId, seq);
  }
}

export function contractSuite(kind: BusKind, makeBus: () => EventBus): void {
  describe(`EventBus contract: ${kind}`, { concurrency: false }, () => {
    const bus = makeBus();
    const redis = createRedis(stackSetting('TITAN_REDIS_URL'));
    after(async () => {
      await bus.close();
      redis.disconnect();
    });
    const names = () => ({ topic: uniqueId(`ev-${kind}-`), group: uniqueId('g-') });

    test('delivers every event of a key in publish order, and only what was published', async () => {
      const { topic, group } = names();
      const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
      const sent: EventEnvelope[] = [];
      for (let seq = 0; seq < 40; seq++) for (const k of keys) sent.push(testEvent(k, seq));
      await bus.publish(topic, sent.slice(0, 160));
      const got: EventEnvelope[] = [];
      const sub = await bus.subscribe({ topic, group, handler: (e) => void got.push(e) });
      await bus.publish(topic, sent.slice(160));
      await waitFor('all 320 events', () => new Set(got.map((e) => e.id)).size === sent.length);
      await sub.close();
      assertOrderedPerKey(got);
      for (const k of keys) {
        const seqs = got.filter((e) => e.aggregateId === k).map(seqOf);
        assert.deepEqual(
          seqs,
          Array.from({ length: 40 }, (_, i) => i),
          `key ${k}`,
        );
      }
      assert.deepEqual(new Set(got.map((e) => e.id)), new Set(sent.map((e) => e.id)));
      assert.deepEqual(
        got[0],
        sent.find((e) => e.id === got[0]!.id),
        'the envelope arrives intact',
      );
    });

    test('a message held by a member that dies is redelivered to another member of the group', async () => {
      const { topic, group } = names();
      const list = uniqueId('events:child:');
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, kind, topic, group, list], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      after(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      try {
        await waitFor(
          'the child member to join',
          async () => (await redis.llen(`${list}:ready`)) > 0,
          60_000,
        );
        const event = testEvent('dying', 0);
        await bus.publish(topic, [event]);
        await waitFor('the child to receive the event', async () =>
          (await redis.lrange(list, 0, -1)).includes(event.id),
        );
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        const got: EventEnvelope[] = [];
        const sub = await bus.subscribe({ topic, group, handler: (e) => void got.push(e) });
        await waitFor('the redelivery', () => got.some((e) => e.id === event.id), 60_000);
        await sub.close();
        assert.deepEqual(
          got.map((e) => e.id),
          [event.id],
        );
      } finally {
        await redis.del(list, `${list}:ready`);
      }
    });

    test('a message that keeps failing goes to the dead letter after N tries with its error; later ones flow', async () => {
      const { topic, group } = names();
      const [ok1, poison, ok2] = [testEvent('dl', 0), testEvent('dl', 1), testEvent('dl', 2)];
      const calls: { id: string; attempt: number }[] = [];
      const handled: string[] = [];
      const dead: EventEnvelope[] = [];
      const [sub, dlq] = await Promise.all([
        bus.subscribe({
          topic,
          group,
          maxAttempts: 3,
          retryDelayMs: 5,
          handler: (e, info: DeliveryInfo) => {
            calls.push({ id: e.id, attempt: info.attempt });
            if (e.id === poison.id) throw new Error('payment gateway said no');
            handled.push(e.id);
          },
        }),
        bus.subscribe({
          topic: deadLetterTopic(topic),
          group: `${group}-dlq`,
          handler: (e) => void dead.push(e),
        }),
      ]);
      await bus.publish(topic, [ok1, poison, ok2]);
      await waitFor('the dead letter', () => dead.length > 0 && handled.length === 2);
      await Promise.all([sub.close(), dlq.close()]);
      assert.deepEqual(handled, [ok1.id, ok2.id]);
      assert.deepEqual(
        calls.filter((c) => c.id === poison.id).map((c) => c.attempt),
        [1, 2, 3],
      );
      assert.equal(dead.length, 1);
      const letter = dead[0] as EventEnvelope<DeadLetter>;
      assert.equal(letter.type, DEAD_LETTER_TYPE);
      assert.equal(letter.aggregateId, 'dl');
      assert.deepEqual(
        { ...letter.payload, original: undefined },
        {
          topic,
          group,
          key: 'dl',
          attempts: 3,
          error: { code: 'Error', message: 'payment gateway said no' },
          originalId: poison.id,
          originalType: 'reservation.created',
          original: undefined,
        },
      );
    });

    test('an event whose payload does not validate is dead-lettered at once, naming the field', async () => {
      const { topic, group } = names();
      const bad = testEvent('schema', 0, { qty: 0 });
      const good = testEvent('schema', 1);
      const handled: string[] = [];
      const dead: EventEnvelope<DeadLetter>[] = [];
      const [sub, dlq] = await Promise.all([
        bus.subscribe({ topic, group, handler: (e) => void handled.push(e.id) }),
        bus.subscribe({
          topic: deadLetterTopic(topic),
          group: `${group}-dlq`,
          handler: (e) => void dead.push(e as EventEnvelope<DeadLetter>),
        }),
      ]);
      await bus.publish(topic, [bad, good]);
      await waitFor('the rejection', () => dead.length > 0 && handled.length > 0);
      await Promise.all([sub.close(), dlq.close()]);
      assert.deepEqual(handled, [good.id], 'the handler never saw the invalid event');
      assert.equal(dead[0]!.payload.attempts, 0);
      assert.equal(dead[0]!.payload.error.code, 'EVENT_INVALID');
      assert.equal(dead[0]!.payload.error.field, '/payload/qty');
      assert.match(dead[0]!.payload.error.message, /\/payload\/qty/);
    });

    test('the group rebalances: a joining member takes partitions, a leaving one hands them back', async () => {
      const { topic, group } = names();
      const byMember = new Map<string, EventEnvelope[]>([
        ['a', []],
        ['b', []],
      ]);
      const all: EventEnvelope[] = [];
      const member = (name: string) => (e: EventEnvelope) => {
        byMember.get(name)!.push(e);
        all.push(e);
      };
      const keys = Array.from({ length: 16 }, (_, i) => `rb${i}`);
      const batch = (from: number) =>
        Array.from({ length: 10 }, (_, s) => keys.map((k) => testEvent(k, from + s))).flat();
      const distinct = () => new Set(all.map((e) => e.id)).size;
      const a = await bus.subscribe({ topic, group, handler: member('a'), consumerId: 'a' });
      await bus.publish(topic, batch(0));
      await waitFor('batch 1', () => distinct() === 160);
      let b: Subscription | undefined = await bus.subscribe({
        topic,
        group,
        handler: member('b'),
        consumerId: 'b',
      });
      // Keep publishing until b has been handed partitions (the rebalance takes a few heartbeats).
      let next = 10;
      let lastPublish = 0;
      await waitFor(
        'b to receive events',
        async () => {
          if (byMember.get('b')!.length > 0) return true;
          if (Date.now() - lastPublish > 500) {
            lastPublish = Date.now();
            await bus.publish(topic, batch(next));
            next += 10;
          }
          return false;
        },
        60_000,
      );
      await waitFor('every event so far', () => distinct() === next * keys.length);
      const aKeys = new Set(
        byMember
          .get('a')!
          .slice(-100)
          .map((e) => e.aggregateId),
      );
      const bKeys = new Set(byMember.get('b')!.map((e) => e.aggregateId));
      assert.ok(bKeys.size > 0 && aKeys.size > 0, 'both members handle keys');
      await b.close();
      b = undefined;
      const before = next;
      await bus.publish(topic, batch(next));
      next += 10;
      await waitFor('a to take everything back', () => distinct() === next * keys.length, 60_000);
      const late = byMember
        .get('a')!
        .filter((e) => seqOf(e) >= before)
        .map((e) => e.aggregateId);
      assert.deepEqual(new Set(late), new Set(keys), 'a handles every key after b left');
      assertOrderedPerKey(all);
      await a.close();
    });
  });
}
