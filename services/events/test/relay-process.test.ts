// The events relay process (relay-main.ts) end to end: it answers /health and /ready, relays a cell outbox
// entry and a PostgreSQL outbox row onto the bus, exposes the lag metric, and stops cleanly on SIGTERM.
// `titan events tail` prints what arrives on a topic.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { outboxKey } from '../../../lua/keys.ts';
import { createRedis, migrate, withTransaction } from '../../kit/index.ts';
import { createTestDatabase, stackSetting, type TestDatabase, uniqueId } from '../../kit/testing.ts';
import { createEvent, type EventEnvelope } from '../envelope.ts';
import { EVENTS_MIGRATIONS } from '../index.ts';
import { writeOutbox } from '../pg-outbox.ts';
import { makeRedisBus, testEvent, waitFor } from './buses.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let db: TestDatabase;
const redis = createRedis(stackSetting('TITAN_REDIS_URL'));
before(async () => {
  db = await createTestDatabase();
  await migrate(db.pool, 'events', EVENTS_MIGRATIONS);
});
after(async () => {
  await db.drop();
  redis.disconnect();
});

test('the relay process relays both outboxes, serves /ready and the lag metric, and stops on SIGTERM', async () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/events/relay-main.ts'], {
    cwd: root,
    env: { ...process.env, TITAN_DATABASE_URL: db.url, TITAN_RELAY_PORT: String(port), TITAN_BUS: 'redis' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const bus = makeRedisBus();
  const group = uniqueId('g-');
  const got: EventEnvelope[] = [];
  const subs = await Promise.all(
    ['titan.reservation', 'titan.user'].map((topic) =>
      bus.subscribe({ topic, group, handler: (e) => void got.push(e) }),
    ),
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    '/ready',
    async () => (await fetch(`${base}/ready`).catch(() => undefined))?.ok === true,
    60_000,
  );
  assert.equal((await fetch(`${base}/health`)).status, 200);

  // Cell 3 of the local map: a reservation made by a sale unique to this test.
  const saleId = uniqueId('s');
  const entry = await redis.xadd(outboxKey('3'), '*', 'reservation.created', `${saleId}|1|u1|1|99`);
  const user = createEvent({
    type: 'user.registered',
    aggregateId: uniqueId('u'),
    payload: { userId: 'x', roles: ['buyer'] },
  });
  await withTransaction(db.pool, (c) => writeOutbox(c, user));
  await waitFor(
    'both events on the bus',
    () => got.some((e) => e.aggregateId === `${saleId}-3-1`) && got.some((e) => e.id === user.id),
  );
  const created = got.find((e) => e.aggregateId === `${saleId}-3-1`)!;
  assert.equal(created.cell, 3);
  assert.equal(new Date(created.occurredAt).getTime(), Number(entry!.split('-')[0]));
  await waitFor('the lag metric', async () =>
    /titan_outbox_relay_lag\{[^}]*cell="3"[^}]*\} \d+/.test(await (await fetch(`${base}/metrics`)).text()),
  );
  const published = await db.pool.query('SELECT published_at FROM titan_outbox WHERE event_id = $1', [
    user.id,
  ]);
  assert.ok(published.rows[0].published_at);

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  await Promise.all(subs.map((s) => s.close()));
  await bus.close();
});

test('titan events tail prints the events of a topic, readable or as JSON', async () => {
  const topic = uniqueId('tail-');
  const bus = makeRedisBus();
  const events = [testEvent('k1', 0), testEvent('k2', 0)];
  await bus.publish(topic, events);
  await bus.close();
  const run = (json: boolean) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'deploy/cli/titan.ts',
          'events',
          'tail',
          topic,
          '--from-beginning',
          ...(json ? ['--json'] : []),
        ],
        { cwd: root, env: { ...process.env, TITAN_BUS: 'redis' }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`tail printed only:\n${out}`));
      }, 30_000);
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.split('\n').length > events.length) child.kill('SIGINT');
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`tail exited ${code}:\n${out}`));
      });
    });
  const json = (await run(true))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(json.map((e) => e.id).sort(), events.map((e) => e.id).sort());
  assert.deepEqual(
    json.find((e) => e.id === events[0]!.id),
    events[0],
  );
  const lines = (await run(false)).trim().split('\n');
  assert.equal(lines.length, 2);
  assert.ok(lines.some((l) => l.includes('reservation.created v1 k1 cell=0') && l.includes(events[0]!.id)));
});
