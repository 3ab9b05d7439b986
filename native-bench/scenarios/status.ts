/** status: `GET /v1/flash-sales/:id` through the edge (served from edge memory), against the hello-world ceiling. */
import { type BenchContext, edgeTarget } from '../lib/context.ts';
import { runWrk } from '../lib/load.ts';
import { measureHttp, type RunRecord } from '../lib/measure.ts';
import { createSale, endSale } from '../lib/platform.ts';
import { helloCeiling } from './ceilings.ts';

export async function statusScenario(ctx: BenchContext): Promise<RunRecord[]> {
  const s = ctx.settings;
  const saleId = await createSale(ctx.stack.edgeUrl, ctx.operatorToken, {
    stock: 1000,
    perUserLimit: 2,
    title: 'bench status',
  });
  const spec = {
    base: ctx.stack.edgeUrl,
    method: 'GET' as const,
    path: `/v1/flash-sales/${saleId}`,
    connections: s.connections,
    durationS: s.durationS,
  };
  ctx.log('status');
  if (s.warmupS > 0) await runWrk(ctx.tools.wrk, { ...spec, durationS: s.warmupS }, ctx.measure.workDir);
  const records: RunRecord[] = [];
  for (const g of s.generators)
    records.push(await measureHttp(ctx.measure, 'status', edgeTarget(ctx), g, spec));
  await endSale(ctx.stack.edgeUrl, ctx.operatorToken, saleId);
  records.push(...(await helloCeiling(ctx)));
  return records;
}
