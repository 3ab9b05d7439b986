import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isTitanError } from '../services/kit/errors.ts';
import { defineVoucher } from './admin.ts';
import { voucherKeys } from './keys.ts';
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

const NOW = 3_000_000;
async function voucher(limit: number, perUserLimit: number): Promise<string> {
  const voucherId = uid('v');
  await defineVoucher(redis, { voucherId, limit, perUserLimit, startsAt: NOW, endsAt: NOW + 1000 });
  return voucherId;
}
async function rejects(p: Promise<unknown>, code: string, field: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) => isTitanError(err) && err.code === code && err.details?.['field'] === field,
  );
}

describe('voucher claim', () => {
  test('claims count against the global and the per-user limit; a retry for the same order is idempotent', async () => {
    const voucherId = await voucher(3, 2);
    const claim = (orderId: string, userId: string, now = NOW) =>
      scripts.voucherClaim({ voucherId, orderId, userId, now });
    assert.equal(await claim('o1', 'ann'), 'CLAIMED');
    assert.equal(await claim('o1', 'ann'), 'ALREADY_CLAIMED');
    assert.equal(await claim('o2', 'ann'), 'CLAIMED');
    assert.equal(await claim('o3', 'ann'), 'LIMIT_REACHED');
    assert.equal(await claim('o4', 'bob'), 'CLAIMED');
    assert.equal(await claim('o5', 'cat'), 'EXHAUSTED');
    assert.equal(await claim('o1', 'bob'), 'ORDER_CONFLICT');
    const k = voucherKeys(voucherId);
    assert.equal(await redis.hget(k.voucher, 'used'), '3');
    assert.equal(await redis.hget(k.users, 'ann'), '2');
    assert.equal(await redis.hexists(k.orders, 'o3'), 0);
  });

  test('the validity window is [startsAt, endsAt): NOT_STARTED and ENDED write nothing', async () => {
    const voucherId = await voucher(5, 5);
    const snap = await snapshotTag(redis, `{vc:${voucherId}}`);
    assert.equal(
      await scripts.voucherClaim({ voucherId, orderId: 'o', userId: 'u', now: NOW - 1 }),
      'NOT_STARTED',
    );
    assert.equal(
      await scripts.voucherClaim({ voucherId, orderId: 'o', userId: 'u', now: NOW + 1000 }),
      'ENDED',
    );
    assert.deepEqual(await snapshotTag(redis, `{vc:${voucherId}}`), snap);
    assert.equal(
      await scripts.voucherClaim({ voucherId, orderId: 'o', userId: 'u', now: NOW + 999 }),
      'CLAIMED',
    );
  });

  test('unclaim gives the use back once; the released order cannot be claimed again', async () => {
    const voucherId = await voucher(1, 1);
    assert.equal(await scripts.voucherClaim({ voucherId, orderId: 'o1', userId: 'u', now: NOW }), 'CLAIMED');
    assert.equal(await scripts.voucherUnclaim({ voucherId, orderId: 'o1' }), 'RELEASED');
    assert.equal(await scripts.voucherUnclaim({ voucherId, orderId: 'o1' }), 'ALREADY_RELEASED');
    assert.equal(await scripts.voucherUnclaim({ voucherId, orderId: 'o9' }), 'NOT_FOUND');
    assert.equal(
      await scripts.voucherClaim({ voucherId, orderId: 'o1', userId: 'u', now: NOW }),
      'ORDER_RELEASED',
    );
    const k = voucherKeys(voucherId);
    assert.equal(await redis.hget(k.voucher, 'used'), '0');
    assert.equal(await redis.hget(k.users, 'u'), null);
    assert.equal(await scripts.voucherClaim({ voucherId, orderId: 'o2', userId: 'u', now: NOW }), 'CLAIMED');
  });

  test('bad arguments and an unknown voucher are refused, writing nothing', async () => {
    const voucherId = await voucher(1, 1);
    const snap = await snapshotTag(redis, `{vc:${voucherId}}`);
    await rejects(
      scripts.voucherClaim({ voucherId, orderId: '', userId: 'u', now: NOW }),
      'LUA_BAD_ARGUMENT',
      'orderId',
    );
    await rejects(
      scripts.voucherClaim({ voucherId, orderId: 'o', userId: 'u|x', now: NOW }),
      'LUA_BAD_ARGUMENT',
      'userId',
    );
    await rejects(
      scripts.voucherClaim({ voucherId, orderId: 'o', userId: 'u', now: -1 }),
      'LUA_BAD_ARGUMENT',
      'now',
    );
    await rejects(
      scripts.voucherClaim({ voucherId: 'a b', orderId: 'o', userId: 'u', now: NOW }),
      'LUA_BAD_ARGUMENT',
      'voucherId',
    );
    await rejects(scripts.voucherUnclaim({ voucherId, orderId: 'o o' }), 'LUA_BAD_ARGUMENT', 'orderId');
    const k = voucherKeys(voucherId);
    const keys = [k.voucher, k.users, k.orders];
    await rejects(scripts.evalRaw('voucher-claim', keys, ['o', 'u', 'soon']), 'LUA_BAD_ARGUMENT', 'now');
    await rejects(scripts.evalRaw('voucher-claim', keys, ['o|1', 'u', NOW]), 'LUA_BAD_ARGUMENT', 'orderId');
    await rejects(scripts.evalRaw('voucher-claim', keys, ['o', '', NOW]), 'LUA_BAD_ARGUMENT', 'userId');
    await rejects(scripts.evalRaw('voucher-unclaim', keys, ['']), 'LUA_BAD_ARGUMENT', 'orderId');
    assert.deepEqual(await snapshotTag(redis, `{vc:${voucherId}}`), snap);
    const ghost = uid('v');
    await rejects(
      scripts.voucherClaim({ voucherId: ghost, orderId: 'o', userId: 'u', now: NOW }),
      'LUA_NOT_FOUND',
      'voucher',
    );
    assert.deepEqual(await snapshotTag(redis, `{vc:${ghost}}`), {});
  });
});
