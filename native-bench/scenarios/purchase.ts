/**
 * purchase: authenticated flash-sale purchases, each with its own Idempotency-Key, spread over all bench
 * users round-robin, through the edge and through the Fastify peer, each on a fresh sale of its own whose
 * stock is large enough that every request takes the reservation path; then a second pair of runs on sales
 * that have sold out (the sold-out path); with the hello-world and redis-benchmark ceilings of the same run.
 */
import { type BenchContext, edgeTarget, peerTarget, shuffled } from '../lib/context.ts';
import type { LoadSpec } from '../lib/load.ts';
import { runWrk } from '../lib/load.ts';
import { measureHttp, type RunRecord, type Target } from '../lib/measure.ts';
import { createSale, endSale, primePurchases, saleCounters, waitForSale } from '../lib/platform.ts';
import { helloCeiling, redisBenchmarkCeiling } from './ceilings.ts';

const BODY = '{"qty":1}';

export async function purchaseScenario(ctx: BenchContext): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  const tokens = shuffled(ctx.users.map((u) => u.token));
  const s = ctx.settings;
  const targets: [Target, string][] = [
    [edgeTarget(ctx), ctx.stack.edgeUrl],
    [peerTarget(ctx), ctx.stack.peerUrl],
  ];
  const specFor = (base: string, saleId: string, tag: string): LoadSpec => ({
    base,
    method: 'POST',
    path: `/v1/flash-sales/${saleId}/purchase`,
    connections: s.connections,
    durationS: s.durationS,
    tokens,
    body: BODY,
    keyPrefix: `${ctx.runId}-${tag}`,
  });

  ctx.log('purchase: reservation path');
  for (const [target, base] of targets) {
    const saleId = await createSale(ctx.stack.edgeUrl, ctx.operatorToken, {
      stock: s.smoke ? 200_000 : 10_000_000,
      perUserLimit: 1000,
      title: `bench ${target.name} reserve`,
    });
    const spec = specFor(base, saleId, `${target.name}-r`);
    await primePurchases(base, saleId, tokens, [200]);
    if (s.warmupS > 0) {
      await runWrk(
        ctx.tools.wrk,
        { ...spec, durationS: s.warmupS, keyPrefix: `${spec.keyPrefix}-warm` },
        ctx.measure.workDir,
      );
    }
    for (const g of s.generators) {
      records.push(
        await measureHttp(
          ctx.measure,
          'purchase',
          target,
          g,
          { ...spec, keyPrefix: `${spec.keyPrefix}-${g}` },
          {
            variant: 'reserve',
            ...(target.role === 'subject' ? { edgeUrl: base } : {}),
            counters: async () => ({ ...(await saleCounters(ctx.redis, saleId, ctx.cells)) }),
          },
        ),
      );
    }
    await endSale(ctx.stack.edgeUrl, ctx.operatorToken, saleId);
  }

  ctx.log('purchase: ceilings');
  records.push(...(await helloCeiling(ctx)));
  records.push(await redisBenchmarkCeiling(ctx));

  ctx.log('purchase: sold-out path');
  for (const [target, base] of targets) {
    const saleId = await createSale(ctx.stack.edgeUrl, ctx.operatorToken, {
      stock: s.smoke ? 50 : 1000,
      perUserLimit: 1000,
      title: `bench ${target.name} sold out`,
    });
    const spec = specFor(base, saleId, `${target.name}-s`);
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
            counters: async () => ({ ...(await saleCounters(ctx.redis, saleId, ctx.cells)) }),
          },
        ),
      );
    }
    await endSale(ctx.stack.edgeUrl, ctx.operatorToken, saleId);
  }
  return records;
}
