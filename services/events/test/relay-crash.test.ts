// The cell outbox relay SIGKILLed in the middle of a stream of 10,000 events (after publishing a batch,
// before committing its cursor) and restarted: every event arrives, in order per aggregate, the republished
// batch is absorbed by the idempotent consumer, nothing is lost or applied twice.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { outboxKey } from '../../../lua/keys.ts';
import { createRedis, migrate } from '../../kit/index.ts';
import { createTestDatabase, stackSetting, type TestDatabase, uniqueId } from '../../kit/testing.ts';
import { deadLetterTopic } from '../catalogue.ts';
import { CellOutboxRelay, relayCursorKey } from '../cell-outbox-relay.ts';
import type { EventEnvelope } from '../envelope.ts';
import { idempotentHandler } from '../idempotent-consumer.ts';
import { EVENTS_MIGRATIONS } from '../index.ts';
import { RedisStreamsBus } from '../redis-streams-bus.ts';
import { waitFor } from './buses.ts';

const CHILD = fileURLToPath(new URL('./relay-child.ts', import.meta.url));
const RESERVATIONS = 5000; // a created and a committed event each: 10,000 events
const LAG = 10; // reservation i is committed right after reservation i + LAG is created

let db: TestDatabase;
const redis = createRedis(stackSetting('TITAN_REDIS_URL'));
before(async () => {
  db = await createTestDatabase();
  await migrate(db.pool, 'events', EVENTS_MIGRATIONS);
  await db.pool.query('CREATE TABLE test_reservations (id text PRIMARY KEY, state text NOT NULL)');
});
after(async () => {
  await db.drop();
  redis.disconnect();
});

function runRelay(cell: number, topic: string, killAfter?: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, String(cell), topic, ...(killAfter ? [String(killAfter)] : [])],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const exited = new Promise<NodeJS.Signals | number | null>((r) =>
    child.once('exit', (code, signal) => r(signal ?? code)),
  );
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, exited };
}

test('a relay killed mid-stream and restarted delivers all 10,000 events; duplicates are absorbed', async () => {
  const cell = 1000 + Math.floor(Math.random() * 60_000);
  const topic = uniqueId('relay-crash-');
  const stream = outboxKey(String(cell));
  const bus = new RedisStreamsBus(stackSetting('TITAN_REDIS_URL'));
  let deliveries = 0;
  let duplicates = 0;
  const effect = async (client: import('../../kit/index.ts').PoolClient, e: EventEnvelope) => {
    const { reservationId } = e.payload as { reservationId: string };
    if (e.type === 'reservation.created') {
      await client.query("INSERT INTO test_reservations (id, state) VALUES ($1, 'R')", [reservationId]);
    } else {
      const r = await client.query("UPDATE test_reservations SET state = 'C' WHERE id = $1 AND state = 'R'", [
        reservationId,
      ]);
      if (r.rowCount !== 1) throw new Error(`${reservationId} committed before it was created`);
    }
  };
  const handle = idempotentHandler(db.pool, 'relay-crash-test', effect, { onDuplicate: () => duplicates++ });
  const sub = await bus.subscribe({
    topic,
    group: 'consumer',
    maxAttempts: 2,
    retryDelayMs: 5,
    handler: async (e, info) => {
      deliveries++;
      await handle(e, info);
    },
  });
  const dead: EventEnvelope[] = [];
  const dlq = await bus.subscribe({
    topic: deadLetterTopic(topic),
    group: 'dlq',
    handler: (e) => void dead.push(e),
  });

  // The "Lua scripts": reservation.created / .committed entries in the exact records the scripts write.
  const writer = (async () => {
    const rec = (i: number) => `sale1|${i}|u${i % 97}|1`;
    for (let from = 0; from < RESERVATIONS + LAG; from += 250) {
      const pipe = redis.pipeline();
      for (let i = from; i < Math.min(from + 250, RESERVATIONS + LAG); i++) {
        if (i < RESERVATIONS)
          pipe.xadd(stream, '*', 'reservation.created', `${rec(i)}|${Date.now() + 60_000}`);
        if (i >= LAG) pipe.xadd(stream, '*', 'reservation.committed', rec(i - LAG));
      }
      await pipe.exec();
      await new Promise((r) => setTimeout(r, 15));
    }
  })();

  const first = runRelay(cell, topic, 3000);
  assert.equal(await first.exited, 'SIGKILL', 'the first relay died mid-stream');
  const relayedBeforeCrash = Number(await redis.hget(relayCursorKey(cell), 'n'));
  assert.ok(
    relayedBeforeCrash < 3000,
    `the last batch was published but not committed (cursor at ${relayedBeforeCrash})`,
  );
  const second = runRelay(cell, topic);
  await writer;
  const applied = async () =>
    Number(
      (await db.pool.query("SELECT count(*) FROM titan_event_applied WHERE consumer = 'relay-crash-test'"))
        .rows[0].count,
    );
  await waitFor('every event applied', async () => (await applied()) === 2 * RESERVATIONS, 120_000);
  second.child.kill('SIGKILL');
  await second.exited;
  await new Promise((r) => setTimeout(r, 300)); // any straggling redelivery would show up here
  await Promise.all([sub.close(), dlq.close()]);

  const states = await db.pool.query(
    'SELECT state, count(*)::int AS n FROM test_reservations GROUP BY state',
  );
  assert.deepEqual(
    states.rows,
    [{ state: 'C', n: RESERVATIONS }],
    'every reservation created, then committed',
  );
  assert.equal(await applied(), 2 * RESERVATIONS);
  assert.equal(dead.length, 0, 'nothing out of order, nothing dead-lettered');
  assert.ok(duplicates > 0, 'the batch published before the crash came again and was absorbed');
  assert.equal(deliveries, 2 * RESERVATIONS + duplicates);
  const lag = await new CellOutboxRelay({ cell, redis, bus }).lag();
  assert.deepEqual(lag, { entries: 0, oldestAgeMs: 0 });
  await bus.close();
  await redis.del(stream, relayCursorKey(cell));
});
