import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Health } from './health.ts';

test('readiness passes only when every check passes, and names the failing one', async () => {
  const h = new Health(200);
  h.addCheck('redis', async () => 'PONG');
  assert.equal((await h.readiness()).ready, true);
  h.addCheck('postgres', async () => {
    throw new Error('connection refused');
  });
  const r = await h.readiness();
  assert.equal(r.ready, false);
  assert.equal(r.checks.redis?.ok, true);
  assert.equal(r.checks.postgres?.error, 'connection refused');
});

test('a hanging check times out instead of hanging readiness', async () => {
  const h = new Health(50).addCheck('slow', () => new Promise(() => {}));
  const r = await h.readiness();
  assert.equal(r.ready, false);
  assert.match(r.checks.slow?.error ?? '', /timed out/);
});

test('readiness fails once shutdown begins', async () => {
  const h = new Health();
  h.markShuttingDown();
  assert.equal((await h.readiness()).ready, false);
});
