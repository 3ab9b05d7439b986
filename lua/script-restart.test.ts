import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { saleCellKeys } from './keys.ts';
import { loadScripts, SCRIPT_NAMES, type TitanScripts } from './loader.ts';
import {
  outboxEvents,
  type PrivateRedis,
  setupSale,
  snapshotTag,
  startPrivateRedis,
} from './test-support.ts';

let server: PrivateRedis;
let redis: Redis;
let scripts: TitanScripts;
before(async () => {
  server = await startPrivateRedis();
  redis = server.client({ retryStrategy: () => 50, maxRetriesPerRequest: null });
  scripts = await loadScripts(redis);
});
after(async () => {
  await redis.quit();
  await server.stop();
});

test('after a crash and an AOF restart the data is intact and every script runs again (NOSCRIPT handled)', async () => {
  const sale = await setupSale(scripts, { initial: 10, quota: 10, perUserLimit: 2 });
  const buy = (userId: string, key: string) =>
    scripts.flashSalePurchase({
      cell: sale.cell,
      saleId: sale.saleId,
      now: 1_500_000,
      requests: [{ userId, quantity: 1, idempotencyKey: key }],
    });
  const [first] = await buy('ann', 'k1');
  assert.equal(first?.status, 'reserved');
  await scripts.stockAdjust({
    cell: sale.cell,
    adjustId: 'a',
    sku: 'tee',
    mode: 'set',
    value: 3,
    reason: 'count',
    now: 1,
  });
  const before = await snapshotTag(redis, `{c${sale.cell}}`);
  const shas = Object.values(scripts.shas);
  assert.deepEqual(
    await redis.script('EXISTS', ...shas),
    shas.map(() => 1),
  );

  await server.crash();
  await server.start();

  assert.deepEqual(await snapshotTag(redis, `{c${sale.cell}}`), before);
  assert.deepEqual(
    await redis.script('EXISTS', ...shas),
    shas.map(() => 0),
  );
  // the replay answers from the AOF-restored record; new purchases, commits and the rest run by EVAL fallback
  assert.deepEqual(await buy('ann', 'k1'), [{ status: 'duplicate', original: first }]);
  assert.equal((await buy('bob', 'k2'))[0]?.status, 'reserved');
  const rid = first?.status === 'reserved' ? first.reservationId : '';
  assert.equal(
    await scripts.reservationCommit({
      cell: sale.cell,
      saleId: sale.saleId,
      reservationId: rid,
      now: 1_500_001,
    }),
    'COMMITTED',
  );
  assert.deepEqual(await redis.hmget(saleCellKeys(sale.cell, sale.saleId).sale, 'q', 'r', 's'), [
    '8',
    '1',
    '1',
  ]);
  assert.equal((await outboxEvents(redis, sale.cell)).length, 4);
  // the fallback re-cached the scripts it ran
  const used = ['flash-sale-purchase', 'reservation-settle'] as const;
  assert.deepEqual(await redis.script('EXISTS', ...used.map((n) => scripts.shas[n])), [1, 1]);
  assert.equal(SCRIPT_NAMES.length, shas.length);
});
