// The cell outbox relay in-process: real records to the catalogue topics keyed by aggregate, the lag
// metric, one relay per cell (lease), undecodable entries dead-lettered, relayed entries trimmed.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { outboxKey } from '../../lua/keys.ts';
import { createMetrics, createRedis } from '../kit/index.ts';
import { stackSetting, uniqueId } from '../kit/testing.ts';
import { CellOutboxRelay, OUTBOX_DEAD_LETTER_TOPIC, relayCursorKey } from './cell-outbox-relay.ts';
import type { EventEnvelope } from './envelope.ts';
import { RedisStreamsBus } from './redis-streams-bus.ts';
import { waitFor } from './test/buses.ts';

const redis = createRedis(stackSetting('TITAN_REDIS_URL'));
after(() => redis.disconnect());

const newCell = () => 1000 + Math.floor(Math.random() * 60_000);

test('relays outbox entries in order to their topics, reports lag, and trims what it relayed', async () => {
  const cell = newCell();
  const stream = outboxKey(String(cell));
  const prefix = uniqueId('relaytest:');
  const bus = new RedisStreamsBus(redis, { prefix, heartbeatMs: 100 });
  const metrics = createMetrics({ defaultMetrics: false });
  await redis.xadd(stream, '*', 'reservation.created', 's1|7|u1|2|99');
  await redis.xadd(stream, '*', 'stock.adjusted', 'adj1|SKU-1|0|5|restock');
  await redis.xadd(stream, '*', 'reservation.committed', 's1|7|u1|2');
  await redis.xadd(stream, '*', 'reservation.created', 'garbage');
  const relay = new CellOutboxRelay({ cell, redis, bus, metrics, retentionMs: 0, pollMs: 10 });
  assert.deepEqual((await relay.lag()).entries, 4);
  assert.ok((await relay.lag()).oldestAgeMs >= 0);

  const got = new Map<string, EventEnvelope[]>();
  const subs = await Promise.all(
    ['titan.reservation', 'titan.stock', OUTBOX_DEAD_LETTER_TOPIC].map((topic) =>
      bus.subscribe({
        topic,
        group: 'g',
        validate: true,
        handler: (e) => void (got.get(topic) ?? got.set(topic, []).get(topic)!).push(e),
      }),
    ),
  );
  const other = new CellOutboxRelay({ cell, redis, bus, owner: 'someone-else' });
  relay.start();
  await waitFor(
    'the relayed events',
    () =>
      (got.get('titan.reservation')?.length ?? 0) === 2 &&
      got.has(OUTBOX_DEAD_LETTER_TOPIC) &&
      got.has('titan.stock'),
  );
  assert.equal(await other.relayOnce(), 0, 'a second relay does not take a cell that has one');
  await waitFor('the lag gauge to reach 0', async () =>
    (await metrics.render()).includes(`titan_outbox_relay_lag{cell="${cell}"} 0`),
  );
  await relay.stop();
  await Promise.all(subs.map((s) => s.close()));

  const reservation = got.get('titan.reservation')!;
  assert.deepEqual(
    reservation.map((e) => e.type),
    ['reservation.created', 'reservation.committed'],
  );
  assert.deepEqual(
    reservation.map((e) => e.aggregateId),
    ['s1-' + cell + '-7', 's1-' + cell + '-7'],
  );
  assert.equal(got.get('titan.stock')![0]!.aggregateId, `stock-${cell}-SKU-1`);
  const dead = got.get(OUTBOX_DEAD_LETTER_TOPIC)![0]!.payload as { error: { code: string; field: string } };
  assert.equal(dead.error.code, 'OUTBOX_RECORD_INVALID');
  assert.equal(Number(await redis.hget(relayCursorKey(cell), 'n')), 4);
  assert.deepEqual(await relay.lag(), { entries: 0, oldestAgeMs: 0 });
  assert.match(await metrics.render(), new RegExp(`titan_outbox_relay_lag_seconds\\{cell="${cell}"\\} 0`));
  assert.equal(await redis.xlen(stream), 1, 'relayed entries are trimmed up to the cursor (retention 0)');

  // Restarting resumes after the cursor: nothing is published twice, a new entry is.
  await redis.xadd(stream, '*', 'reservation.released', 's1|8|u2|1');
  const again = new CellOutboxRelay({ cell, redis, bus });
  assert.equal(await again.relayOnce(), 1);
  await again.stop();
  await bus.close();
  await redis.del(stream, relayCursorKey(cell));
});
