/**
 * tune: a sweep over the cells' flash-sale pool settings (batch max size and wait, threads, concurrent tasks
 * per worker) on the purchase scenario through the edge (wrk), each setting written as a new map version and
 * the edge restarted on it; prints throughput, p99 and CPU per purchase for each, and recommends the setting
 * with the highest throughput among those with p99 under 10 ms (the highest throughput when none is).
 * `titan cells tune` applies it (the command is printed). The shipped map is restored afterwards.
 */
import { copyFileSync } from 'node:fs';
import { flashSalePools, patchFlashSalePools } from '../lib/cell-map.ts';
import { type BenchContext, edgeTarget, shuffled } from '../lib/context.ts';
import { runWrk } from '../lib/load.ts';
import { measureHttp } from '../lib/measure.ts';
import { createSale, endSale, primePurchases, saleCounters } from '../lib/platform.ts';
import type { TuneResult, TuneRow } from '../report/document.ts';
import { settingsLabel } from '../report/write.ts';

type Settings = TuneRow['settings'];

function sweep(shipped: Settings, smoke: boolean): Settings[] {
  const one = { minThreads: 1, maxThreads: 1 };
  const all: Settings[] = [
    shipped,
    { ...shipped, ...one, batchMaxSize: 48, batchMaxWaitMicros: 0, concurrentTasksPerWorker: 4 },
    { ...shipped, ...one, batchMaxSize: 48, batchMaxWaitMicros: 500, concurrentTasksPerWorker: 4 },
    { ...shipped, ...one, batchMaxSize: 48, batchMaxWaitMicros: 2000, concurrentTasksPerWorker: 4 },
    { ...shipped, ...one, batchMaxSize: 48, batchMaxWaitMicros: 0, concurrentTasksPerWorker: 16 },
    { ...shipped, ...one, batchMaxSize: 16, batchMaxWaitMicros: 0, concurrentTasksPerWorker: 4 },
    {
      ...shipped,
      minThreads: 2,
      maxThreads: 2,
      batchMaxSize: 48,
      batchMaxWaitMicros: 0,
      concurrentTasksPerWorker: 4,
    },
  ];
  return smoke ? all.slice(0, 2) : all;
}

export async function tuneScenario(ctx: BenchContext): Promise<TuneResult> {
  const s = ctx.settings;
  const mapFile = ctx.stack.mapFile;
  const backup = `${mapFile}.shipped`;
  copyFileSync(mapFile, backup);
  const p = flashSalePools(mapFile);
  const shipped: Settings = {
    batchMaxSize: p.batchMaxSize,
    batchMaxWaitMicros: p.batchMaxWaitMicros,
    minThreads: p.minThreads,
    maxThreads: p.maxThreads,
    concurrentTasksPerWorker: p.concurrentTasksPerWorker,
  };
  const tokens = shuffled(
    ctx.users.map((u) => u.token),
    11,
  );
  const rows: TuneRow[] = [];
  ctx.log('tune');
  try {
    for (const settings of sweep(shipped, s.smoke)) {
      patchFlashSalePools(mapFile, settings);
      await ctx.stack.restart('edge', 'edge/main.ts');
      const saleId = await createSale(ctx.stack.edgeUrl, ctx.operatorToken, {
        stock: s.smoke ? 200_000 : 10_000_000,
        perUserLimit: 1000,
        title: 'bench tune',
      });
      const spec = {
        base: ctx.stack.edgeUrl,
        method: 'POST' as const,
        path: `/v1/flash-sales/${saleId}/purchase`,
        connections: s.connections,
        durationS: s.durationS,
        tokens,
        body: '{"qty":1}',
        keyPrefix: `${ctx.runId}-tune${rows.length}`,
      };
      await primePurchases(ctx.stack.edgeUrl, saleId, tokens, [200]);
      if (s.warmupS > 0) {
        await runWrk(
          ctx.tools.wrk,
          { ...spec, durationS: s.warmupS, keyPrefix: `${spec.keyPrefix}-warm` },
          ctx.measure.workDir,
        );
      }
      const record = await measureHttp(ctx.measure, 'tune', edgeTarget(ctx), 'wrk', spec, {
        variant: settingsLabel(settings),
        settings,
        edgeUrl: ctx.stack.edgeUrl,
        counters: async () => ({ ...(await saleCounters(ctx.redis, saleId, ctx.cells)) }),
      });
      rows.push({ settings, record });
      await endSale(ctx.stack.edgeUrl, ctx.operatorToken, saleId);
    }
  } finally {
    copyFileSync(backup, mapFile);
    await ctx.stack.restart('edge', 'edge/main.ts');
  }
  const fast = rows.filter((r) => r.record.latencyMs.p99 < 10);
  const pool = fast.length ? fast : rows;
  const best = pool.reduce((a, b) => (b.record.rps > a.record.rps ? b : a));
  const r = best.settings;
  const reason = fast.length
    ? `highest throughput (${Math.round(best.record.rps)} req/s) among the settings with p99 under 10 ms (p99 ${best.record.latencyMs.p99.toFixed(2)} ms, ${best.record.cpu.totalUs.toFixed(1)} us CPU per purchase)`
    : `no setting kept p99 under 10 ms on this run; highest throughput (${Math.round(best.record.rps)} req/s, p99 ${best.record.latencyMs.p99.toFixed(2)} ms)`;
  const command =
    `for c in ${ctx.cells.join(' ')}; do npm run titan -- cells tune $c --pool flashSale ` +
    `--min-threads ${r.minThreads} --max-threads ${r.maxThreads} --concurrent-tasks ${r.concurrentTasksPerWorker} ` +
    `--batch-max ${r.batchMaxSize} --batch-wait-us ${r.batchMaxWaitMicros}; done`;
  ctx.log(`  recommended: ${settingsLabel(r)}: ${reason}`);
  return { rows, recommended: r, reason, command };
}
