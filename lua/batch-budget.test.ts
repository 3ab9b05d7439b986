import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { loadScripts, MAX_PURCHASE_BATCH, PURCHASE_BATCH_BUDGET_US, type TitanScripts } from './loader.ts';
import { type PrivateRedis, setupSale, startPrivateRedis } from './test-support.ts';

// SLOWLOG is server-wide, so this test measures on its own redis-server, not on the shared test Redis.
let server: PrivateRedis;
let redis: Redis;
let scripts: TitanScripts;
before(async () => {
  server = await startPrivateRedis();
  redis = server.client();
  scripts = await loadScripts(redis);
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.config('SET', 'slowlog-max-len', '1024');
});
after(async () => {
  await redis.quit();
  await server.stop();
});

const RUNS = 30;

/** Redis' own execution time (us) of each purchase batch, read from SLOWLOG (threshold 0 logs every command). */
async function timeBatches(size: number): Promise<number[]> {
  const sale = await setupSale(scripts, { initial: RUNS * size, quota: RUNS * size, perUserLimit: 1 });
  const durations: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // the slowest path: every request is new and reserves (5 writes + an event each)
    const requests = Array.from({ length: size }, (_, i) => ({
      userId: `user-${run}-${i}`,
      quantity: 1,
      idempotencyKey: `0f8fad5b-d9cb-469f-a165-${String(run * 1000 + i).padStart(12, '0')}`,
    }));
    await redis.slowlog('RESET');
    const out = await scripts.flashSalePurchase({
      cell: sale.cell,
      saleId: sale.saleId,
      now: 1_500_000,
      requests,
    });
    assert.equal(out.filter((r) => r.status === 'reserved').length, size);
    const entries = (await redis.slowlog('GET', 16)) as [number, number, number, string[]][];
    const evalsha = entries.filter((e) => String(e[3][0]).toLowerCase() === 'evalsha');
    assert.equal(evalsha.length, 1);
    durations.push(Number(evalsha[0]![2]));
  }
  return durations.sort((a, b) => a - b);
}

test(`a maximal purchase batch (${MAX_PURCHASE_BATCH} reserving requests) runs within ${PURCHASE_BATCH_BUDGET_US} us of Redis time`, async (t) => {
  const max = await timeBatches(MAX_PURCHASE_BATCH);
  const median = max[Math.floor(max.length / 2)]!;
  const p90 = max[Math.floor(max.length * 0.9)]!;
  const one = await timeBatches(1);
  t.diagnostic(
    `batch ${MAX_PURCHASE_BATCH}: median ${median} us, p90 ${p90} us, max ${max.at(-1)} us; ` +
      `${(median / MAX_PURCHASE_BATCH).toFixed(1)} us per request (a batch of 1: ${one[Math.floor(one.length / 2)]} us)`,
  );
  // The fastest of the runs is asserted: it is the script's own cost with the least interference. On a
  // shared 2-core machine the median and the tail also measure the neighbours (other test files, other
  // processes preempting Redis), which would make this test fail for reasons that are not the batch.
  const fastest = max[0]!;
  assert.ok(
    fastest <= PURCHASE_BATCH_BUDGET_US,
    `fastest run ${fastest} us > budget ${PURCHASE_BATCH_BUDGET_US} us`,
  );
});
