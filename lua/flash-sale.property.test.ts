/**
 * Random sequences of purchase batches, commits, releases, sweeps and quota transfers (some of them interrupted
 * by a simulated crash, then recovered), run against the scripts and against a plain TypeScript model of the
 * same rules (test-sale-model.ts): every answer and the final state must agree, and the sale must balance after
 * every step.
 */
import { after, before, test } from 'node:test';
import type { TitanScripts } from './loader.ts';
import { checkSaleAgainstModel } from './test-sale-model.ts';
import { connectScripts } from './test-support.ts';

let scripts: TitanScripts;
before(async () => {
  scripts = await connectScripts();
});
after(async () => {
  await scripts.redis.quit();
});

test('purchase, settle, sweep and quota transfers agree with the reference model', async () => {
  await checkSaleAgainstModel({ scripts, redis: scripts.redis }, 40);
});
