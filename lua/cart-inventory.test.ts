import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isTitanError } from '../services/kit/errors.ts';
import { inventoryKeys } from './keys.ts';
import { MAX_CART_ITEMS, type TitanScripts } from './loader.ts';
import { connectScripts, outboxEvents, snapshotTag, uid } from './test-support.ts';

let scripts: TitanScripts;
let redis: Redis;
before(async () => {
  scripts = await connectScripts();
  redis = scripts.redis as Redis;
});
after(async () => {
  await redis.quit();
});

const NOW = 5_000_000;
const TTL = 10_000;

async function stockedCell(stock: Record<string, number>): Promise<string> {
  const cell = uid('c');
  for (const [sku, value] of Object.entries(stock)) {
    const r = await scripts.stockAdjust({
      cell,
      adjustId: uid('a'),
      sku,
      mode: 'set',
      value,
      reason: 'count',
      now: NOW,
    });
    assert.equal(r.status, 'ADJUSTED');
  }
  return cell;
}
async function counts(cell: string, sku: string): Promise<[number, number, number]> {
  const [a, h, s] = await redis.hmget(inventoryKeys(cell).inventory, `a:${sku}`, `h:${sku}`, `s:${sku}`);
  return [Number(a ?? 0), Number(h ?? 0), Number(s ?? 0)];
}
async function rejects(p: Promise<unknown>, code: string, field: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) => isTitanError(err) && err.code === code && err.details?.['field'] === field,
  );
}

describe('cart inventory reservation', () => {
  test('a cart holds all its SKUs with an expiry, records the hold and appends cart.reserved', async () => {
    const cell = await stockedCell({ tee: 5, mug: 2 });
    const r = await scripts.cartReserve({
      cell,
      holdId: 'h1',
      now: NOW,
      ttlMs: TTL,
      items: [
        { sku: 'tee', quantity: 2 },
        { sku: 'mug', quantity: 2 },
      ],
    });
    assert.deepEqual(r, { status: 'RESERVED', expiresAt: NOW + TTL });
    assert.deepEqual(await counts(cell, 'tee'), [3, 2, 0]);
    assert.deepEqual(await counts(cell, 'mug'), [0, 2, 0]);
    const k = inventoryKeys(cell);
    assert.equal(await redis.zscore(k.expiry, 'h1'), String(NOW + TTL));
    assert.deepEqual((await outboxEvents(redis, cell)).at(-1), {
      type: 'cart.reserved',
      data: `h1|R|${NOW + TTL}|tee|2|mug|2`,
    });
  });

  test('all or nothing: one short SKU refuses the cart, names every short SKU, and writes nothing', async () => {
    const cell = await stockedCell({ tee: 5, mug: 1 });
    const snap = await snapshotTag(redis, `{c${cell}}`);
    const r = await scripts.cartReserve({
      cell,
      holdId: 'h2',
      now: NOW,
      ttlMs: TTL,
      items: [
        { sku: 'tee', quantity: 5 },
        { sku: 'mug', quantity: 2 },
        { sku: 'unknown', quantity: 1 },
      ],
    });
    assert.deepEqual(r, { status: 'OUT_OF_STOCK', skus: ['mug', 'unknown'] });
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), snap);
  });

  test('a repeated holdId returns the stored hold as DUPLICATE and takes nothing more', async () => {
    const cell = await stockedCell({ tee: 5 });
    const items = [{ sku: 'tee', quantity: 1 }];
    await scripts.cartReserve({ cell, holdId: 'h3', now: NOW, ttlMs: TTL, items });
    const snap = await snapshotTag(redis, `{c${cell}}`);
    const again = await scripts.cartReserve({ cell, holdId: 'h3', now: NOW + 5, ttlMs: TTL, items });
    assert.deepEqual(again, {
      status: 'DUPLICATE',
      hold: { state: 'RESERVED', expiresAt: NOW + TTL, items },
    });
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), snap);
  });

  test('commit turns held into sold; release and expiry return held to available; all idempotent', async () => {
    const cell = await stockedCell({ tee: 10 });
    const items = [{ sku: 'tee', quantity: 2 }];
    for (const holdId of ['c1', 'r1', 'e1', 'e2'])
      await scripts.cartReserve({ cell, holdId, now: NOW, ttlMs: TTL, items });
    assert.deepEqual(await counts(cell, 'tee'), [2, 8, 0]);
    assert.equal(await scripts.cartCommit({ cell, holdId: 'c1', now: NOW + 1 }), 'COMMITTED');
    assert.equal(await scripts.cartCommit({ cell, holdId: 'c1', now: NOW + 2 }), 'ALREADY_COMMITTED');
    assert.equal(await scripts.cartRelease({ cell, holdId: 'c1', now: NOW + 2 }), 'COMMITTED');
    assert.equal(await scripts.cartRelease({ cell, holdId: 'r1', now: NOW + 1 }), 'RELEASED');
    assert.equal(await scripts.cartRelease({ cell, holdId: 'r1', now: NOW + 2 }), 'ALREADY_RELEASED');
    assert.equal(await scripts.cartCommit({ cell, holdId: 'r1', now: NOW + 2 }), 'RELEASED');
    assert.equal(await scripts.cartCommit({ cell, holdId: 'e1', now: NOW + TTL }), 'EXPIRED');
    assert.deepEqual(await scripts.cartSweep({ cell, now: NOW + TTL, limit: 10 }), {
      expired: 1,
      more: false,
    });
    assert.equal(await scripts.cartRelease({ cell, holdId: 'e2', now: NOW + TTL }), 'EXPIRED');
    assert.equal(await scripts.cartCommit({ cell, holdId: 'nope', now: NOW }), 'NOT_FOUND');
    assert.deepEqual(await counts(cell, 'tee'), [8, 0, 2]);
    const types = (await outboxEvents(redis, cell)).map((e) => e.type).filter((t) => t !== 'stock.adjusted');
    assert.deepEqual(types, [
      'cart.reserved',
      'cart.reserved',
      'cart.reserved',
      'cart.reserved',
      'cart.committed',
      'cart.released',
      'cart.expired',
      'cart.expired',
    ]);
    assert.equal(await redis.zcard(inventoryKeys(cell).expiry), 0);
  });

  test('the sweep releases at most `limit` holds per call and reports more', async () => {
    const cell = await stockedCell({ tee: 10 });
    for (let i = 0; i < 5; i++) {
      await scripts.cartReserve({
        cell,
        holdId: `s${i}`,
        now: NOW + i,
        ttlMs: TTL,
        items: [{ sku: 'tee', quantity: 1 }],
      });
    }
    assert.deepEqual(await scripts.cartSweep({ cell, now: NOW + TTL + 2, limit: 2 }), {
      expired: 2,
      more: true,
    });
    assert.deepEqual(await scripts.cartSweep({ cell, now: NOW + TTL + 2, limit: 2 }), {
      expired: 1,
      more: false,
    });
    assert.deepEqual(await counts(cell, 'tee'), [8, 2, 0]);
  });

  test('bad arguments are refused by TypeScript and by the scripts, writing nothing', async () => {
    const cell = await stockedCell({ tee: 10 });
    const snap = await snapshotTag(redis, `{c${cell}}`);
    const ok = { cell, holdId: 'h', now: NOW, ttlMs: TTL, items: [{ sku: 'tee', quantity: 1 }] };
    await rejects(scripts.cartReserve({ ...ok, holdId: 'a b' }), 'LUA_BAD_ARGUMENT', 'holdId');
    await rejects(scripts.cartReserve({ ...ok, ttlMs: 0 }), 'LUA_BAD_ARGUMENT', 'ttlMs');
    await rejects(scripts.cartReserve({ ...ok, items: [] }), 'LUA_BAD_ARGUMENT', 'items');
    const many = Array.from({ length: MAX_CART_ITEMS + 1 }, (_, i) => ({ sku: `s${i}`, quantity: 1 }));
    await rejects(scripts.cartReserve({ ...ok, items: many }), 'LUA_BAD_ARGUMENT', 'items');
    await rejects(
      scripts.cartReserve({ ...ok, items: [...ok.items, { sku: 'tee', quantity: 2 }] }),
      'LUA_BAD_ARGUMENT',
      'items[1].sku',
    );
    await rejects(
      scripts.cartReserve({ ...ok, items: [{ sku: 'tee', quantity: 0 }] }),
      'LUA_BAD_ARGUMENT',
      'items[0].quantity',
    );
    await rejects(scripts.cartCommit({ cell, holdId: '', now: NOW }), 'LUA_BAD_ARGUMENT', 'holdId');
    await rejects(scripts.cartSweep({ cell, now: NOW, limit: 5000 }), 'LUA_BAD_ARGUMENT', 'limit');
    const k = inventoryKeys(cell);
    const keys = [k.inventory, k.holds, k.expiry, k.outbox];
    const raw: [string, (string | number)[], string][] = [
      ['cart-reserve', ['h', NOW, TTL, 2, 'tee', 1, 'mug', 1, 'extra'], 'items'],
      ['cart-reserve', ['h', NOW, TTL, 2, 'tee', 1, 'tee', 1], 'items[1].sku'],
      ['cart-reserve', ['h', NOW, TTL, 2, 'tee', 1, 'mug', -1], 'items[1].quantity'],
      ['cart-reserve', ['h', NOW, 'ttl', 1, 'tee', 1], 'ttlMs'],
      ['cart-reserve', ['h', -3, TTL, 1, 'tee', 1], 'now'],
      ['cart-reserve', ['h|1', NOW, TTL, 1, 'tee', 1], 'holdId'],
      ['cart-settle', ['keep', 'h', NOW], 'op'],
      ['cart-settle', ['commit', 'h', 'now'], 'now'],
      ['cart-sweep', [NOW, 0], 'limit'],
    ];
    for (const [name, args, field] of raw) {
      await rejects(scripts.evalRaw(name as 'cart-reserve', keys, args), 'LUA_BAD_ARGUMENT', field);
    }
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), snap);
  });
});
