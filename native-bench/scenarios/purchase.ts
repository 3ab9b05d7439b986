/**
 * purchase: authenticated flash-sale purchases, each with its own Idempotency-Key, spread over all bench
 * users round-robin, on the platform as `npm start` runs it.
 *
 * - The reservation path at each of the settings' connection counts (64 and 256 by default), in the same run:
 *   the edge with its cells' batches on worker threads (the shipped map), the same edge with them on its own
 *   event loop (`runOn: event-loop`: the difference is what the thread hop costs), and the Fastify peer; each on
 *   a fresh sale large enough that every request reserves. Redis memory and AOF growth are read around each
 *   run (bytes per reserved purchase).
 * - The sold-out path (a sale the warm-up sold out), edge and peer.
 * - The first seconds of a sale: a fresh edge process (as after a deploy), a sale that opens a few seconds
 *   later, and load that starts the moment it opens.
 * With the hello-world and redis-benchmark ceilings of the same run.
 */
import { request } from 'undici';
import type { RunOn } from '../../cells/index.ts';
import { patchFlashSalePools } from '../lib/cell-map.ts';
import { type BenchContext, edgeTarget, peerTarget, shuffled } from '../lib/context.ts';
import type { LoadSpec } from '../lib/load.ts';
import { runWrk } from '../lib/load.ts';
import { measureHttp, type RunRecord, type Target } from '../lib/measure.ts';
import {
  compactAof,
  createSale,
  endSale,
  primePurchases,
  redisFootprint,
  relayCaughtUp,
  saleCounters,
  saleKeysBytes,
  waitForSale,
} from '../lib/platform.ts';
import { helloCeiling, redisBenchmarkCeiling } from './ceilings.ts';

const BODY = '{"qty":1}';
/** How long after its creation the cold-start sale opens: time for the fresh edge to learn of it. */
const COLD_OPENS_IN_MS = 5000;
const COLD_SECONDS = 3;

interface PurchaseTarget {
  target: Target;
  base: string;
  /** Edge targets: where the cells' flash-sale batches run during this target's runs. */
  runOn?: RunOn;
}

export async function purchaseScenario(ctx: BenchContext): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  const tokens = shuffled(ctx.users.map((u) => u.token));
  const s = ctx.settings;
  const edge = edgeTarget(ctx);
  // In-loop first: switching back to workers starts new threads, and the workers' run primes them (every
  // cell answers) and warms up before it is measured; nothing else runs while they compile.
  const targets: PurchaseTarget[] = [
    { target: { ...edge, name: 'edge-in-loop' }, base: ctx.stack.edgeUrl, runOn: 'event-loop' },
    { target: edge, base: ctx.stack.edgeUrl, runOn: 'workers' },
    { target: peerTarget(ctx), base: ctx.stack.peerUrl },
  ];
  const specFor = (base: string, saleId: string, tag: string, connections: number): LoadSpec => ({
    base,
    method: 'POST',
    path: `/v1/flash-sales/${saleId}/purchase`,
    connections,
    durationS: s.durationS,
    tokens,
    body: BODY,
    keyPrefix: `${ctx.runId}-${tag}`,
  });
  const settle = () => relayCaughtUp(ctx.redis, ctx.cells);
  const prepare = () => compactAof(ctx.redis);
  const warmUp = (spec: LoadSpec, tag: string) =>
    runWrk(
      ctx.tools.wrk,
      { ...spec, durationS: s.warmupS, keyPrefix: `${spec.keyPrefix}-${tag}` },
      ctx.measure.workDir,
    );

  ctx.log('purchase: reservation path');
  for (const connections of s.purchaseConnections) {
    for (const { target, base, runOn } of targets) {
      if (runOn !== undefined) await useRunOn(ctx, tokens[0]!, runOn);
      const saleId = await createSale(ctx.stack.edgeUrl, ctx.operatorToken, {
        stock: s.smoke ? 200_000 : 10_000_000,
        perUserLimit: 1000,
        title: `bench ${target.name} reserve ${connections}`,
      });
      const spec = specFor(base, saleId, `${target.name}-r${connections}`, connections);
      await primePurchases(base, saleId, tokens, [200]);
      if (s.warmupS > 0) await warmUp(spec, 'warm');
      for (const g of s.generators) {
        const record = await measureHttp(
          ctx.measure,
          'purchase',
          target,
          g,
          { ...spec, keyPrefix: `${spec.keyPrefix}-${g}` },
          {
            variant: 'reserve',
            ...(target.role === 'subject' ? { edgeUrl: base } : {}),
            ...(runOn !== undefined ? { settings: { runOn } } : {}),
            settle,
            prepare,
            counters: async () => ({
              ...(await saleCounters(ctx.redis, saleId, ctx.cells)),
              ...(await redisFootprint(ctx.redis)),
            }),
          },
        );
        // What the script keeps per reservation (the sale's own keys, every purchase of this sale so far).
        const total = (await saleCounters(ctx.redis, saleId, ctx.cells)).reserved;
        if (record.outcome && total > 0) {
          record.outcome.saleKeysBytesPerReserved = Math.round(
            (await saleKeysBytes(ctx.redis, saleId, ctx.cells)) / total,
          );
        }
        records.push(record);
      }
      await endSale(ctx.stack.edgeUrl, ctx.operatorToken, saleId);
    }
  }
  ctx.log('purchase: ceilings');
  records.push(...(await helloCeiling(ctx)));
  records.push(await redisBenchmarkCeiling(ctx));

  ctx.log('purchase: sold-out path');
  for (const { target, base } of [targets[1]!, targets[2]!]) {
    const saleId = await createSale(ctx.stack.edgeUrl, ctx.operatorToken, {
      stock: s.smoke ? 50 : 1000,
      perUserLimit: 1000,
      title: `bench ${target.name} sold out`,
    });
    const spec = specFor(base, saleId, `${target.name}-s`, s.connections);
    // The warm-up sells the stock; the rebalancer empties the pool into the cells where demand is.
    for (let round = 1; ; round++) {
      await runWrk(
        ctx.tools.wrk,
        { ...spec, durationS: Math.max(1, s.warmupS), keyPrefix: `${spec.keyPrefix}-warm${round}` },
        ctx.measure.workDir,
      );
      const out = await waitForSale(ctx.stack.edgeUrl, saleId, (x) => x.remaining === 0, 3000).catch(
        () => undefined,
      );
      if (out) break;
      if (round >= 10) throw new Error(`sale ${saleId} did not sell out`);
    }
    await primePurchases(base, saleId, tokens, [409]);
    // A smoke run proves the sold-out path with one generator only, to stay short.
    for (const g of s.smoke ? s.generators.slice(0, 1) : s.generators) {
      records.push(
        await measureHttp(
          ctx.measure,
          'purchase',
          target,
          g,
          { ...spec, keyPrefix: `${spec.keyPrefix}-${g}` },
          {
            variant: 'sold-out',
            ...(target.role === 'subject' ? { edgeUrl: base } : {}),
            settle,
            prepare,
            counters: async () => ({ ...(await saleCounters(ctx.redis, saleId, ctx.cells)) }),
          },
        ),
      );
    }
    await endSale(ctx.stack.edgeUrl, ctx.operatorToken, saleId);
  }

  if (!s.smoke && s.generators.includes('wrk')) records.push(await firstSeconds(ctx, tokens));
  return records;
}

/**
 * The first seconds of a sale on a fresh edge process: nothing cached (tokens, sale, lanes) but what the edge
 * does before the doors open. The sale opens COLD_OPENS_IN_MS after its creation; load starts as it opens.
 */
async function firstSeconds(ctx: BenchContext, tokens: string[]): Promise<RunRecord> {
  ctx.log(`purchase: the first ${COLD_SECONDS} s of a sale, on a fresh edge process`);
  await ctx.stack.restart('edge', 'edge/main.ts');
  const opensAt = Date.now() + COLD_OPENS_IN_MS;
  const saleId = await createSale(ctx.stack.edgeUrl, ctx.operatorToken, {
    stock: 10_000_000,
    perUserLimit: 1000,
    title: 'bench edge first seconds',
    startsAtMs: opensAt,
  });
  const wait = opensAt - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const record = await measureHttp(
    ctx.measure,
    'purchase',
    edgeTarget(ctx),
    'wrk',
    {
      base: ctx.stack.edgeUrl,
      method: 'POST',
      path: `/v1/flash-sales/${saleId}/purchase`,
      connections: ctx.settings.connections,
      durationS: COLD_SECONDS,
      tokens,
      body: BODY,
      keyPrefix: `${ctx.runId}-cold`,
    },
    {
      variant: `first-${COLD_SECONDS}s`,
      edgeUrl: ctx.stack.edgeUrl,
      settle: () => relayCaughtUp(ctx.redis, ctx.cells),
      counters: async () => ({ ...(await saleCounters(ctx.redis, saleId, ctx.cells)) }),
    },
  );
  await endSale(ctx.stack.edgeUrl, ctx.operatorToken, saleId);
  return record;
}

/** Writes the next map version with every cell's flash-sale `runOn` set, and waits until the edge serves it. */
async function useRunOn(ctx: BenchContext, token: string, runOn: RunOn): Promise<void> {
  const map = patchFlashSalePools(ctx.stack.mapFile, { runOn });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await request(`${ctx.stack.edgeUrl}/v1/session`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await r.body.json().catch(() => ({}))) as { mapVersion?: number };
    if (r.statusCode === 200 && body.mapVersion === map.version) return;
    if (Date.now() > deadline)
      throw new Error(`the edge did not take map version ${map.version} (runOn ${runOn})`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
