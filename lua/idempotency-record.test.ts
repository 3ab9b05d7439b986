import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isTitanError } from '../services/kit/errors.ts';
import { idempotencyKey } from './keys.ts';
import type { TitanScripts } from './loader.ts';
import { connectScripts, snapshotTag, uid } from './test-support.ts';

let scripts: TitanScripts;
let redis: Redis;
before(async () => {
  scripts = await connectScripts();
  redis = scripts.redis as Redis;
});
after(async () => {
  await redis.quit();
});

const T0 = 2_000_000;
async function rejects(p: Promise<unknown>, code: string, field: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) => isTitanError(err) && err.code === code && err.details?.['field'] === field,
  );
}

describe('idempotency record', () => {
  test('begin claims the key; while in flight a retry is IN_FLIGHT; complete stores the answer; replays return it', async () => {
    const ref = { cell: uid('c'), scope: 'orders.create:u1', key: 'key-1' };
    const begin = (token: string, now: number, fingerprint = 'fp-A') =>
      scripts.idempotencyBegin({ ...ref, fingerprint, token, leaseMs: 5000, now });
    assert.deepEqual(await begin('t1', T0), { status: 'STARTED' });
    assert.deepEqual(await begin('t2', T0 + 1000), { status: 'IN_FLIGHT', retryAfterMs: 4000 });
    assert.deepEqual(await begin('t2', T0 + 1000, 'fp-B'), { status: 'MISMATCH' });
    assert.equal(
      await scripts.idempotencyComplete({
        ...ref,
        token: 't1',
        status: 201,
        body: '{"id":"o1"}',
        ttlMs: 86_400_000,
      }),
      'STORED',
    );
    assert.deepEqual(await begin('t3', T0 + 2000), {
      status: 'REPLAY',
      httpStatus: 201,
      body: '{"id":"o1"}',
    });
    assert.deepEqual(await begin('t3', T0 + 2000, 'fp-B'), { status: 'MISMATCH' });
    assert.equal(
      await scripts.idempotencyComplete({ ...ref, token: 't1', status: 500, body: 'late', ttlMs: 1000 }),
      'ALREADY_COMPLETED',
    );
    const pttl = await redis.pttl(idempotencyKey(ref.cell, ref.scope, ref.key));
    assert.ok(pttl > 86_000_000, `pttl ${pttl}`);
  });

  test('an expired lease can be claimed again, and the old owner can no longer complete', async () => {
    const ref = { cell: uid('c'), scope: 'pay', key: 'k' };
    await scripts.idempotencyBegin({ ...ref, fingerprint: 'f', token: 'old', leaseMs: 1000, now: T0 });
    assert.deepEqual(
      await scripts.idempotencyBegin({
        ...ref,
        fingerprint: 'f',
        token: 'new',
        leaseMs: 1000,
        now: T0 + 1000,
      }),
      {
        status: 'STARTED',
      },
    );
    assert.equal(
      await scripts.idempotencyComplete({ ...ref, token: 'old', status: 200, body: 'x', ttlMs: 1000 }),
      'LEASE_LOST',
    );
    assert.equal(
      await scripts.idempotencyComplete({ ...ref, token: 'new', status: 200, body: '', ttlMs: 1000 }),
      'STORED',
    );
    assert.deepEqual(
      await scripts.idempotencyBegin({ ...ref, fingerprint: 'f', token: 'z', leaseMs: 1000, now: T0 + 5000 }),
      {
        status: 'REPLAY',
        httpStatus: 200,
        body: '',
      },
    );
  });

  test('abort drops the claim so the client may retry; only the owner can abort', async () => {
    const ref = { cell: uid('c'), scope: 'pay', key: 'k' };
    await scripts.idempotencyBegin({ ...ref, fingerprint: 'f', token: 'a', leaseMs: 1000, now: T0 });
    assert.equal(await scripts.idempotencyAbort({ ...ref, token: 'b' }), 'LEASE_LOST');
    assert.equal(await scripts.idempotencyAbort({ ...ref, token: 'a' }), 'ABORTED');
    assert.deepEqual(await snapshotTag(redis, `{c${ref.cell}}`), {});
    assert.deepEqual(
      await scripts.idempotencyBegin({ ...ref, fingerprint: 'g', token: 'c', leaseMs: 1000, now: T0 }),
      {
        status: 'STARTED',
      },
    );
  });

  test('answers that are not STARTED write nothing', async () => {
    const ref = { cell: uid('c'), scope: 's', key: 'k' };
    await scripts.idempotencyBegin({ ...ref, fingerprint: 'f', token: 'a', leaseMs: 1000, now: T0 });
    const snap = await snapshotTag(redis, `{c${ref.cell}}`);
    await scripts.idempotencyBegin({ ...ref, fingerprint: 'f', token: 'b', leaseMs: 1000, now: T0 + 1 });
    await scripts.idempotencyBegin({ ...ref, fingerprint: 'x', token: 'b', leaseMs: 1000, now: T0 + 1 });
    await scripts.idempotencyComplete({ ...ref, token: 'b', status: 200, body: 'x', ttlMs: 10 });
    assert.deepEqual(await snapshotTag(redis, `{c${ref.cell}}`), snap);
  });

  test('bad arguments are refused by TypeScript and by the scripts, writing nothing', async () => {
    const cell = uid('c');
    const ref = { cell, scope: 's', key: 'k' };
    const begin = { ...ref, fingerprint: 'f', token: 't', leaseMs: 1000, now: T0 };
    await rejects(scripts.idempotencyBegin({ ...begin, scope: 'a b' }), 'LUA_BAD_ARGUMENT', 'scope');
    await rejects(scripts.idempotencyBegin({ ...begin, key: '' }), 'LUA_BAD_ARGUMENT', 'key');
    await rejects(
      scripts.idempotencyBegin({ ...begin, fingerprint: 'x'.repeat(129) }),
      'LUA_BAD_ARGUMENT',
      'fingerprint',
    );
    await rejects(scripts.idempotencyBegin({ ...begin, token: 't t' }), 'LUA_BAD_ARGUMENT', 'token');
    await rejects(scripts.idempotencyBegin({ ...begin, leaseMs: 0 }), 'LUA_BAD_ARGUMENT', 'leaseMs');
    const done = { ...ref, token: 't', status: 200, body: 'b', ttlMs: 1000 };
    await rejects(scripts.idempotencyComplete({ ...done, status: 99 }), 'LUA_BAD_ARGUMENT', 'status');
    await rejects(scripts.idempotencyComplete({ ...done, ttlMs: 0 }), 'LUA_BAD_ARGUMENT', 'ttlMs');
    await rejects(
      scripts.idempotencyComplete({ ...done, body: 'x'.repeat(1_048_577) }),
      'LUA_BAD_ARGUMENT',
      'body',
    );
    const key = [idempotencyKey(cell, 's', 'k')];
    const raw: [Parameters<TitanScripts['evalRaw']>[0], (string | number)[], string][] = [
      ['idempotency-begin', ['x', 'f', 't', 1000], 'now'],
      ['idempotency-begin', [T0, '', 't', 1000], 'fingerprint'],
      ['idempotency-begin', [T0, 'f', 't|1', 1000], 'token'],
      ['idempotency-begin', [T0, 'f', 't', 600_001], 'leaseMs'],
      ['idempotency-end', ['finish', 't'], 'op'],
      ['idempotency-end', ['complete', 't', 600, 'b', 1000], 'status'],
      ['idempotency-end', ['complete', 't', 200, 'b', 0], 'ttlMs'],
      ['idempotency-end', ['abort', ''], 'token'],
    ];
    for (const [name, args, field] of raw)
      await rejects(scripts.evalRaw(name, key, args), 'LUA_BAD_ARGUMENT', field);
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), {});
  });
});
