import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isTitanError } from '../services/kit/errors.ts';
import { inventoryKeys } from './keys.ts';
import type { TitanScripts } from './loader.ts';
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

const NOW = 7_000_000;
async function rejects(p: Promise<unknown>, code: string, field: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) => isTitanError(err) && err.code === code && err.details?.['field'] === field,
  );
}

describe('stock adjust', () => {
  test('restock (delta) and count correction (set) change available stock and append an audit event', async () => {
    const cell = uid('c');
    const base = { cell, sku: 'tee', now: NOW };
    assert.deepEqual(
      await scripts.stockAdjust({ ...base, adjustId: 'a1', mode: 'set', value: 10, reason: 'count' }),
      {
        status: 'ADJUSTED',
        before: 0,
        after: 10,
      },
    );
    assert.deepEqual(
      await scripts.stockAdjust({
        ...base,
        adjustId: 'a2',
        mode: 'delta',
        value: 5,
        reason: 'restock | PO 7',
      }),
      { status: 'ADJUSTED', before: 10, after: 15 },
    );
    assert.deepEqual(
      await scripts.stockAdjust({ ...base, adjustId: 'a3', mode: 'delta', value: -15, reason: 'damaged' }),
      {
        status: 'ADJUSTED',
        before: 15,
        after: 0,
      },
    );
    assert.equal(await redis.hget(inventoryKeys(cell).inventory, 'a:tee'), '0');
    assert.deepEqual(await outboxEvents(redis, cell), [
      { type: 'stock.adjusted', data: 'a1|tee|0|10|count' },
      { type: 'stock.adjusted', data: 'a2|tee|10|15|restock | PO 7' },
      { type: 'stock.adjusted', data: 'a3|tee|15|0|damaged' },
    ]);
  });

  test('a retried adjustId applies once and answers DUPLICATE with the first result', async () => {
    const cell = uid('c');
    const adj = {
      cell,
      sku: 'tee',
      now: NOW,
      adjustId: 'once',
      mode: 'delta' as const,
      value: 4,
      reason: 'restock',
    };
    await scripts.stockAdjust(adj);
    const snap = await snapshotTag(redis, `{c${cell}}`);
    assert.deepEqual(await scripts.stockAdjust(adj), { status: 'DUPLICATE', before: 0, after: 4 });
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), snap);
  });

  test('a correction below zero is INSUFFICIENT and writes nothing', async () => {
    const cell = uid('c');
    await scripts.stockAdjust({
      cell,
      sku: 'tee',
      now: NOW,
      adjustId: 'a',
      mode: 'set',
      value: 3,
      reason: 'count',
    });
    const snap = await snapshotTag(redis, `{c${cell}}`);
    assert.deepEqual(
      await scripts.stockAdjust({
        cell,
        sku: 'tee',
        now: NOW,
        adjustId: 'b',
        mode: 'delta',
        value: -4,
        reason: 'oops',
      }),
      { status: 'INSUFFICIENT', available: 3 },
    );
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), snap);
  });

  test('an adjustId reused for a different adjustment is LUA_CONFLICT and writes nothing', async () => {
    const cell = uid('c');
    await scripts.stockAdjust({
      cell,
      sku: 'tee',
      now: NOW,
      adjustId: 'x',
      mode: 'set',
      value: 3,
      reason: 'count',
    });
    const snap = await snapshotTag(redis, `{c${cell}}`);
    await rejects(
      scripts.stockAdjust({
        cell,
        sku: 'tee',
        now: NOW,
        adjustId: 'x',
        mode: 'set',
        value: 4,
        reason: 'count',
      }),
      'LUA_CONFLICT',
      'adjustId',
    );
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), snap);
  });

  test('bad arguments are refused by TypeScript and by the script, writing nothing', async () => {
    const cell = uid('c');
    const ok = {
      cell,
      sku: 'tee',
      now: NOW,
      adjustId: 'a',
      mode: 'delta' as const,
      value: 1,
      reason: 'restock',
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ adjustId: '' }, 'adjustId'],
      [{ sku: 'a:b' }, 'sku'],
      [{ mode: 'add' }, 'mode'],
      [{ value: 0 }, 'value'],
      [{ value: 2.5 }, 'value'],
      [{ mode: 'set', value: -1 }, 'value'],
      [{ reason: '' }, 'reason'],
      [{ reason: 'tab\there' }, 'reason'],
      [{ now: Number.NaN }, 'now'],
    ];
    for (const [patch, field] of cases) {
      await rejects(scripts.stockAdjust({ ...ok, ...patch } as never), 'LUA_BAD_ARGUMENT', field);
    }
    const k = inventoryKeys(cell);
    const keys = [k.inventory, k.adjustments, k.outbox];
    const raw: [(string | number)[], string][] = [
      [['a', 'tee', 'delta', '0', 'r', NOW], 'value'],
      [['a', 'tee', 'delta', '1.5', 'r', NOW], 'value'],
      [['a', 'tee', 'set', '-2', 'r', NOW], 'value'],
      [['a', 'tee', 'put', '2', 'r', NOW], 'mode'],
      [['a', 't|ee', 'set', '2', 'r', NOW], 'sku'],
      [['a', 'tee', 'set', '2', '', NOW], 'reason'],
      [['a', 'tee', 'set', '2', 'r', 'now'], 'now'],
    ];
    for (const [args, field] of raw)
      await rejects(scripts.evalRaw('stock-adjust', keys, args), 'LUA_BAD_ARGUMENT', field);
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), {});
  });
});
