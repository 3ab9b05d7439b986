/**
 * Micro benchmark of the engine's batching dispatcher: the overhead per request of coalescing, packing the task,
 * unpacking it and packing a reply on the "worker" side, unpacking and routing each result to its caller, with a
 * trivial in-process sink in place of the worker pool. Peers measured in the same run: a bare Promise per request
 * carrying the same decoded outcome (the floor of any async API), and the same dispatcher with batching off (one
 * task per request). Each call handles a burst of 48 requests (one full purchase batch).
 *
 *   npx tsx native-bench/dispatcher.bench.ts [--smoke]
 *   TITAN_REDIS_URL=redis://127.0.0.1:16379 npx tsx native-bench/dispatcher.bench.ts --pool [--smoke]
 *     adds a run through a real pool + Redis: requests/s and CPU per request (this process, all threads, and
 *     Redis), beside a peer that runs the same batched Lua calls on the main thread without workers.
 */
import { Redis } from 'ioredis';
import { Bench } from 'tinybench';
import { generateMap } from '../cells/index.ts';
import { packMessage, STRIDE, TASK_HEADER, unpackMessage } from '../engine/codec.ts';
import { type BatchSink, Dispatcher } from '../engine/dispatcher.ts';
import { createEngine, type PurchaseOutcome } from '../engine/index.ts';
import { flashSaleCodec } from '../engine/kinds.ts';
import { configureSaleCell, createSale } from '../lua/admin.ts';
import { decodePurchaseEntry } from '../lua/flash-sale-purchase.ts';
import { loadScripts, MAX_PURCHASE_BATCH } from '../lua/loader.ts';
import { transferQuota } from '../lua/quota-transfer.ts';
import { createLogger } from '../services/kit/logger.ts';
import { createMetrics } from '../services/kit/metrics.ts';

const smoke = process.argv.includes('--smoke');
const BURST = MAX_PURCHASE_BATCH;
const RESULT = ['1700000060000', 'R123456'];

/** Stands in for the worker: unpacks the task, answers one reservation per request, packs the reply. */
const sink: BatchSink = {
  tryReserve: () => true,
  retryAfterMs: () => 1,
  async run(task) {
    const m = unpackMessage(task);
    const n = m[2] as number;
    const entries: unknown[] = ['1700000060000'];
    for (let i = 0; i < n; i++)
      entries.push(typeof m[TASK_HEADER + i * STRIDE] === 'string' ? 'R123456' : 'S');
    return packMessage([0, 0, 0, 1, entries]);
  },
};

const batched = new Dispatcher<PurchaseOutcome>(
  sink,
  flashSaleCodec,
  { batchMaxSize: BURST, batchMaxWaitMicros: 0 },
  { hardMax: MAX_PURCHASE_BATCH },
);
const single = new Dispatcher<PurchaseOutcome>(
  sink,
  flashSaleCodec,
  { batchMaxSize: 1, batchMaxWaitMicros: 0 },
  { hardMax: MAX_PURCHASE_BATCH },
);
const users = Array.from({ length: BURST }, (_, i) => `user${i}`);
const keys = Array.from({ length: BURST }, (_, i) => `idem-${i}-0123456789`);
const calls: Promise<PurchaseOutcome>[] = new Array(BURST);
let checksum = 0;

async function burst(d: Dispatcher<PurchaseOutcome>): Promise<void> {
  for (let i = 0; i < BURST; i++) calls[i] = d.submit('sale-1', users[i], 1, keys[i], 1_700_000_000_000);
  const out = await Promise.all(calls);
  if (out[BURST - 1]!.status === 'reserved') checksum++;
}

const bench = new Bench({
  name: 'dispatcher',
  time: smoke ? 100 : 2000,
  warmupTime: smoke ? 50 : 500,
  iterations: smoke ? 20 : 200,
  throws: true,
});
bench
  .add('dispatcher: 48 requests -> 1 task (coalesce, pack, unpack, route)', () => burst(batched))
  .add('dispatcher, batching off: 48 requests -> 48 tasks', () => burst(single))
  .add('peer: a bare Promise per request (same outcome decoded)', async () => {
    for (let i = 0; i < BURST; i++) calls[i] = Promise.resolve(decodePurchaseEntry(RESULT, 0));
    const out = await Promise.all(calls);
    if (out[BURST - 1]!.status === 'reserved') checksum++;
  });
await bench.run();

const nsPerRequest = new Map<string, number>();
for (const task of bench.tasks) {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
  nsPerRequest.set(task.name, (r.period * 1e6) / BURST);
}
const peerNs = [...nsPerRequest.values()][2]!;
console.log(
  `dispatcher overhead, bursts of ${BURST} requests for one sale${smoke ? ' (smoke: short run)' : ''}, node ${process.version}`,
);
console.table(
  [...nsPerRequest].map(([task, ns]) => ({
    task,
    'ns/request': ns.toFixed(0),
    'x peer': (ns / peerNs).toFixed(2),
  })),
);

if (process.argv.includes('--pool')) await poolScenario();
if (checksum === -1) console.log('unreachable');

/** Real pool + Redis: the engine vs the same batched Lua calls on the main thread. */
async function poolScenario(): Promise<void> {
  const url = process.env.TITAN_REDIS_URL;
  if (!url) throw new Error('--pool needs TITAN_REDIS_URL');
  const N = smoke ? 5_000 : 50_000;
  const WAVE = 480;
  const redis = new Redis(url, { enableAutoPipelining: true });
  const scripts = await loadScripts(redis);
  const cellBase = 60_000 + Math.floor(Math.random() * 5000);
  const open = async (cell: number) => {
    const saleId = `bench${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
    await createSale(redis, { saleId, initial: N });
    await configureSaleCell(redis, {
      cell: String(cell),
      saleId,
      startsAt: 1,
      endsAt: 1e13,
      perUserLimit: 1,
      reservationTtlMs: 600_000,
    });
    await transferQuota(scripts, {
      saleId,
      transferId: `${saleId}x`,
      amount: N,
      from: 'pool',
      to: { cell: String(cell) },
      now: 2,
    });
    return saleId;
  };
  const redisCpu = async () => {
    const info = await redis.info('cpu');
    const v = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return v('used_cpu_user') + v('used_cpu_sys');
  };
  const measure = async (name: string, run: () => Promise<number>) => {
    const cpu0 = process.cpuUsage();
    const r0 = await redisCpu();
    const t0 = performance.now();
    const reserved = await run();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const r1 = await redisCpu();
    return {
      scenario: name,
      'req/s': Math.round((N / ms) * 1000),
      'node CPU us/req': ((cpu.user + cpu.system) / N).toFixed(1),
      'redis CPU us/req': (((r1 - r0) * 1e6) / N).toFixed(1),
      reserved,
    };
  };
  const map = generateMap({ cells: 2, shards: 1, redis: () => ({ url }) });
  const doc = JSON.parse(JSON.stringify(map));
  for (const c of doc.cells) {
    c.id += cellBase;
    c.backup += cellBase;
    c.pools.flashSale = {
      ...c.pools.flashSale,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 8,
      maxQueue: 100_000,
    };
  }
  for (const s of doc.slots) s.cell += cellBase;
  const engine = createEngine({
    map: doc,
    logger: createLogger({ name: 'bench', level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
  });
  const engineSale = await open(cellBase);
  // start the worker before measuring
  await engine.flashSale(cellBase, {
    saleId: engineSale,
    userId: 'warm',
    quantity: 1,
    idempotencyKey: 'w',
    at: 3,
  });
  const viaEngine = await measure('engine: 1 pool thread, batches of 48', async () => {
    let reserved = 0;
    for (let w = 0; w < N; w += WAVE) {
      const wave: Promise<PurchaseOutcome>[] = [];
      for (let i = w; i < Math.min(N, w + WAVE); i++) {
        wave.push(
          engine.flashSale(cellBase, {
            saleId: engineSale,
            userId: `u${i}`,
            quantity: 1,
            idempotencyKey: 'k',
            at: 3,
          }),
        );
      }
      for (const o of await Promise.all(wave)) if (o.status === 'reserved') reserved++;
    }
    return reserved;
  });
  const peerSale = await open(cellBase + 1);
  const viaMain = await measure('peer: same batched Lua calls on the main thread', async () => {
    let reserved = 0;
    for (let w = 0; w < N; w += WAVE) {
      const batches: Promise<{ status: string }[]>[] = [];
      for (let b = w; b < Math.min(N, w + WAVE); b += BURST) {
        const requests = [];
        for (let i = b; i < Math.min(N, b + BURST); i++)
          requests.push({ userId: `u${i}`, quantity: 1, idempotencyKey: 'k', at: 3 });
        batches.push(
          scripts.flashSalePurchase({
            cell: String(cellBase + 1),
            saleId: peerSale,
            now: Date.now(),
            requests,
          }),
        );
      }
      for (const rs of await Promise.all(batches))
        for (const r of rs) if (r.status === 'RESERVED') reserved++;
    }
    return reserved;
  });
  await engine.close();
  await redis.quit();
  console.log(
    `\nthrough a real pool and Redis, ${N} purchases in waves of ${WAVE} (CPU: this process incl. worker threads; Redis: INFO cpu)`,
  );
  console.table([viaEngine, viaMain]);
}
