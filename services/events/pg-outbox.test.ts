// The PostgreSQL outbox (written with the state change, relayed once by several relays, in order per key)
// and the idempotent consumer (a redelivered event changes nothing; a failed effect records nothing).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { migrate, withTransaction } from '../kit/index.ts';
import { createTestDatabase, type TestDatabase, uniqueId } from '../kit/testing.ts';
import type { EventEnvelope } from './envelope.ts';
import { createEvent } from './envelope.ts';
import { EventErrors } from './errors.ts';
import { applyOnce } from './idempotent-consumer.ts';
import { EVENTS_MIGRATIONS } from './index.ts';
import { PgOutboxRelay, writeOutbox } from './pg-outbox.ts';
import { makeRedisBus, waitFor } from './test/buses.ts';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
  await migrate(db.pool, 'events', EVENTS_MIGRATIONS);
  await db.pool.query('CREATE TABLE accounts (id text PRIMARY KEY, credits int NOT NULL DEFAULT 0)');
});
after(() => db.drop());

const registered = (userId: string, n = 0) =>
  createEvent({ type: 'user.registered', aggregateId: userId, payload: { userId, roles: [`r${n}`] } });

test('an outbox row exists exactly when its transaction commits; an invalid event is refused', async () => {
  const kept = registered(uniqueId('u'));
  const rolled = registered(uniqueId('u'));
  await withTransaction(db.pool, (c) => writeOutbox(c, kept));
  await assert.rejects(
    withTransaction(db.pool, async (c) => {
      await writeOutbox(c, rolled);
      throw new Error('the state change failed');
    }),
  );
  await assert.rejects(
    withTransaction(db.pool, (c) => writeOutbox(c, { ...registered('u1'), payload: { userId: 'u1' } })),
    (err: unknown) => EventErrors.EVENT_INVALID.is(err) && err.details?.field === '/payload/roles',
  );
  const ids = (await db.pool.query('SELECT event_id FROM titan_outbox')).rows.map((r) => r.event_id);
  assert.ok(ids.includes(kept.id));
  assert.ok(!ids.includes(rolled.id));
  await db.pool.query('DELETE FROM titan_outbox');
});

test('three relays publish every row once, in order per key, and mark them published', async () => {
  const bus = makeRedisBus();
  const topic = uniqueId('pg-outbox-');
  const users = Array.from({ length: 20 }, () => uniqueId('u'));
  const sent: EventEnvelope[] = [];
  for (let n = 0; n < 30; n++) {
    await withTransaction(db.pool, async (c) => {
      for (const u of users) {
        const e = registered(u, n);
        sent.push(e);
        await writeOutbox(c, e, { topic });
      }
    });
  }
  const got: EventEnvelope[] = [];
  const sub = await bus.subscribe({ topic, group: 'g', handler: (e) => void got.push(e) });
  const relays = [0, 1, 2].map(() => new PgOutboxRelay({ pool: db.pool, bus, batchSize: 50, pollMs: 10 }));
  for (const r of relays) r.start();
  await waitFor('all 600 events', () => got.length >= sent.length);
  await Promise.all(relays.map((r) => r.stop()));
  await new Promise((r) => setTimeout(r, 200));
  await sub.close();
  await bus.close();
  assert.equal(got.length, sent.length, 'each row published once');
  assert.deepEqual(new Set(got.map((e) => e.id)), new Set(sent.map((e) => e.id)));
  for (const u of users) {
    const roles = got
      .filter((e) => e.aggregateId === u)
      .map((e) => (e.payload as { roles: string[] }).roles[0]);
    assert.deepEqual(
      roles,
      Array.from({ length: 30 }, (_, n) => `r${n}`),
      `order of ${u}`,
    );
  }
  const left = await db.pool.query('SELECT count(*)::int AS n FROM titan_outbox WHERE published_at IS NULL');
  assert.equal(left.rows[0].n, 0);
});

test('an idempotent consumer applies an event once, however often and however concurrently it comes', async () => {
  const account = uniqueId('a');
  await db.pool.query('INSERT INTO accounts (id) VALUES ($1)', [account]);
  const credit = (e: EventEnvelope) =>
    applyOnce(db.pool, 'credits', e, async (c) => {
      await c.query('UPDATE accounts SET credits = credits + 1 WHERE id = $1', [account]);
    });
  const e1 = registered(account);
  const results = await Promise.all([credit(e1), credit(e1), credit(e1), credit(e1)]);
  assert.deepEqual(results.filter(Boolean).length, 1);
  assert.equal(await credit(e1), false);
  assert.equal(await credit(registered(account)), true);
  // Another consumer of the same event has its own record.
  assert.equal(await applyOnce(db.pool, 'audit', e1, async () => {}), true);
  const credits = (await db.pool.query('SELECT credits FROM accounts WHERE id = $1', [account])).rows[0]
    .credits;
  assert.equal(credits, 2);
});

test('a failing effect records nothing, so the redelivery applies it', async () => {
  const e = registered(uniqueId('u'));
  await assert.rejects(
    applyOnce(db.pool, 'flaky', e, async (c) => {
      await c.query('SELECT 1');
      throw new Error('downstream failed');
    }),
  );
  assert.equal(await applyOnce(db.pool, 'flaky', e, async () => {}), true);
});
