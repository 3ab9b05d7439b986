import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isTitanError } from '../services/kit/errors.ts';
import { readSaleLedger } from './admin.ts';
import { saleCellKeys } from './keys.ts';
import type { TitanScripts } from './loader.ts';
import { connectScripts, outboxEvents, type SaleSetup, setupSale, snapshotTag } from './test-support.ts';

let scripts: TitanScripts;
let redis: Redis;
before(async () => {
  scripts = await connectScripts();
  redis = scripts.redis as Redis;
});
after(async () => {
  await redis.quit();
});

const NOW = 1_500_000;
const TTL = 60_000;

/** Reserves one unit for each user and returns the reservation ids. */
async function reserve(sale: SaleSetup, users: string[], now = NOW, quantity = 1): Promise<string[]> {
  const out = await scripts.flashSalePurchase({
    cell: sale.cell,
    saleId: sale.saleId,
    now,
    requests: users.map((userId) => ({ userId, quantity, idempotencyKey: `k-${userId}-${now}` })),
  });
  return out.map((r) => {
    assert.equal(r.status, 'reserved');
    return r.status === 'reserved' ? r.reservationId : '';
  });
}
const ref = (sale: SaleSetup, reservationId: string, now = NOW) => ({
  cell: sale.cell,
  saleId: sale.saleId,
  reservationId,
  now,
});

async function rejects(p: Promise<unknown>, code: string, field: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) => isTitanError(err) && err.code === code && err.details?.['field'] === field,
  );
}

describe('reservation commit, release and expiry sweep', () => {
  test('commit moves units from reserved to sold, leaves the expiry index, and is idempotent', async () => {
    const sale = await setupSale(scripts, { initial: 5, quota: 5, perUserLimit: 2, ttlMs: TTL });
    const [rid] = await reserve(sale, ['ann'], NOW, 2);
    assert.equal(await scripts.reservationCommit(ref(sale, rid!)), 'COMMITTED');
    const k = saleCellKeys(sale.cell, sale.saleId);
    assert.deepEqual(await redis.hmget(k.sale, 'q', 'r', 's'), ['3', '0', '2']);
    assert.equal(await redis.zscore(k.expiry, rid!), null);
    assert.equal(await redis.hget(k.users, 'ann'), '2');
    const snap = await snapshotTag(redis, `{c${sale.cell}}`);
    assert.equal(await scripts.reservationCommit(ref(sale, rid!)), 'ALREADY_COMMITTED');
    assert.equal(await scripts.reservationRelease(ref(sale, rid!)), 'COMMITTED');
    assert.deepEqual(await snapshotTag(redis, `{c${sale.cell}}`), snap);
    const events = await outboxEvents(redis, sale.cell);
    assert.deepEqual(events.at(-1), { type: 'reservation.committed', data: `${sale.saleId}|${rid}|ann|2` });
    assert.equal((await readSaleLedger(redis, sale.saleId, [sale.cell])).balanced, true);
  });

  test('release returns stock to the cell quota and undoes the per-user count; idempotent', async () => {
    const sale = await setupSale(scripts, { initial: 5, quota: 2, perUserLimit: 1 });
    const [rid] = await reserve(sale, ['ben']);
    assert.equal(await scripts.reservationRelease(ref(sale, rid!)), 'RELEASED');
    const k = saleCellKeys(sale.cell, sale.saleId);
    assert.deepEqual(await redis.hmget(k.sale, 'q', 'r', 's'), ['2', '0', '0']);
    assert.equal(await redis.hget(k.users, 'ben'), null);
    assert.equal(await redis.zscore(k.expiry, rid!), null);
    const snap = await snapshotTag(redis, `{c${sale.cell}}`);
    assert.equal(await scripts.reservationRelease(ref(sale, rid!)), 'ALREADY_RELEASED');
    assert.equal(await scripts.reservationCommit(ref(sale, rid!)), 'RELEASED');
    assert.deepEqual(await snapshotTag(redis, `{c${sale.cell}}`), snap);
    // the limit no longer counts the released unit
    await reserve(sale, ['ben'], NOW + 1);
    assert.equal((await outboxEvents(redis, sale.cell))[1]?.type, 'reservation.released');
  });

  test('commit at or after the expiry time expires the reservation instead (a late payment takes no stock)', async () => {
    const sale = await setupSale(scripts, { initial: 5, quota: 5, perUserLimit: 1, ttlMs: TTL });
    const [rid] = await reserve(sale, ['cy']);
    assert.equal(await scripts.reservationCommit(ref(sale, rid!, NOW + TTL)), 'EXPIRED');
    const k = saleCellKeys(sale.cell, sale.saleId);
    assert.deepEqual(await redis.hmget(k.sale, 'q', 'r', 's'), ['5', '0', '0']);
    assert.equal((await outboxEvents(redis, sale.cell)).at(-1)?.type, 'reservation.expired');
    assert.equal(await scripts.reservationCommit(ref(sale, rid!)), 'EXPIRED');
    assert.equal(await scripts.reservationRelease(ref(sale, rid!)), 'EXPIRED');
  });

  test('an unknown reservation is NOT_FOUND and writes nothing', async () => {
    const sale = await setupSale(scripts, { initial: 5, quota: 5, perUserLimit: 1 });
    const snap = await snapshotTag(redis, `{c${sale.cell}}`);
    assert.equal(await scripts.reservationCommit(ref(sale, '999')), 'NOT_FOUND');
    assert.equal(await scripts.reservationRelease(ref(sale, '999')), 'NOT_FOUND');
    assert.deepEqual(await snapshotTag(redis, `{c${sale.cell}}`), snap);
  });

  test('the sweep releases only expired reservations, at most `limit` per call, and says when more remain', async () => {
    const sale = await setupSale(scripts, { initial: 10, quota: 10, perUserLimit: 1, ttlMs: TTL });
    const early = await reserve(sale, ['a', 'b', 'c', 'd', 'e'], NOW);
    const late = await reserve(sale, ['f', 'g'], NOW + 1000);
    assert.equal(await scripts.reservationCommit(ref(sale, early[0]!)), 'COMMITTED');
    const base = { cell: sale.cell, saleId: sale.saleId, limit: 3 };
    assert.deepEqual(await scripts.reservationSweep({ ...base, now: NOW + TTL - 1 }), {
      expired: 0,
      more: false,
    });
    assert.deepEqual(await scripts.reservationSweep({ ...base, now: NOW + TTL }), { expired: 3, more: true });
    assert.deepEqual(await scripts.reservationSweep({ ...base, now: NOW + TTL }), {
      expired: 1,
      more: false,
    });
    const k = saleCellKeys(sale.cell, sale.saleId);
    assert.deepEqual(await redis.hmget(k.sale, 'q', 'r', 's'), ['7', '2', '1']);
    assert.deepEqual((await redis.zrange(k.expiry, 0, -1)).sort(), [...late].sort());
    for (const u of ['b', 'c', 'd', 'e']) assert.equal(await redis.hget(k.users, u), null);
    assert.equal(await redis.hget(k.users, 'a'), '1');
    const expired = (await outboxEvents(redis, sale.cell)).filter((e) => e.type === 'reservation.expired');
    assert.equal(expired.length, 4);
    assert.equal(await scripts.reservationRelease(ref(sale, early[1]!)), 'EXPIRED');
    assert.equal((await readSaleLedger(redis, sale.saleId, [sale.cell])).balanced, true);
  });

  test('bad arguments are refused by TypeScript and by the scripts, writing nothing', async () => {
    const sale = await setupSale(scripts, { initial: 5, quota: 5, perUserLimit: 1 });
    const [rid] = await reserve(sale, ['z']);
    const tag = `{c${sale.cell}}`;
    const snap = await snapshotTag(redis, tag);
    await rejects(
      scripts.reservationCommit({ ...ref(sale, rid!), reservationId: 'r1' }),
      'LUA_BAD_ARGUMENT',
      'reservationId',
    );
    await rejects(scripts.reservationRelease({ ...ref(sale, rid!), now: -1 }), 'LUA_BAD_ARGUMENT', 'now');
    await rejects(scripts.reservationCommit({ ...ref(sale, rid!), cell: '{x}' }), 'LUA_BAD_ARGUMENT', 'cell');
    await rejects(
      scripts.reservationSweep({ cell: sale.cell, saleId: sale.saleId, now: NOW, limit: 0 }),
      'LUA_BAD_ARGUMENT',
      'limit',
    );
    const k = saleCellKeys(sale.cell, sale.saleId);
    const keys = [k.sale, k.users, k.reservations, k.expiry, k.outbox];
    await rejects(
      scripts.evalRaw('reservation-settle', keys, ['confirm', sale.saleId, rid!, NOW]),
      'LUA_BAD_ARGUMENT',
      'op',
    );
    await rejects(
      scripts.evalRaw('reservation-settle', keys, ['commit', 'a|b', rid!, NOW]),
      'LUA_BAD_ARGUMENT',
      'saleId',
    );
    await rejects(
      scripts.evalRaw('reservation-settle', keys, ['commit', sale.saleId, 'x', NOW]),
      'LUA_BAD_ARGUMENT',
      'reservationId',
    );
    await rejects(
      scripts.evalRaw('reservation-settle', keys, ['release', sale.saleId, rid!, '']),
      'LUA_BAD_ARGUMENT',
      'now',
    );
    await rejects(
      scripts.evalRaw('reservation-sweep', keys, [sale.saleId, NOW + 1e9, 1001]),
      'LUA_BAD_ARGUMENT',
      'limit',
    );
    await rejects(
      scripts.evalRaw('reservation-sweep', keys, [sale.saleId, 'later', 10]),
      'LUA_BAD_ARGUMENT',
      'now',
    );
    await rejects(
      scripts.evalRaw('reservation-sweep', keys, ['', NOW + 1e9, 10]),
      'LUA_BAD_ARGUMENT',
      'saleId',
    );
    assert.deepEqual(await snapshotTag(redis, tag), snap);
  });
});
