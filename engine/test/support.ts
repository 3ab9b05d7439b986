/**
 * Helpers of the engine tests: a cell map on the test Redis with random cell ids (so test files running at the
 * same time on one Redis never share a cell's keys), an engine with a silent logger and a private registry, and
 * a sale opened in a cell with some quota.
 */
import { Redis } from 'ioredis';
import {
  type CellMap,
  type CellPools,
  DEFAULT_POOLS,
  type FlashSalePoolSettings,
  type FraudPoolSettings,
  generateMap,
  type PoolSettings,
  parseCellMap,
} from '../../cells/index.ts';
import { readSaleLedger, type SaleLedger } from '../../lua/admin.ts';
import { loadScripts, type TitanScripts } from '../../lua/loader.ts';
import { setupSale } from '../../lua/test-support.ts';
import { createLogger } from '../../services/kit/logger.ts';
import { createMetrics, type Metrics } from '../../services/kit/metrics.ts';
import { stackSetting } from '../../services/kit/testing.ts';
import { createEngine, type Engine, type EngineOptions } from '../index.ts';

export const SMALL_POOL: PoolSettings = {
  minThreads: 1,
  maxThreads: 2,
  concurrentTasksPerWorker: 4,
  maxQueue: 1000,
  idleTimeoutMs: 30_000,
  batchMaxSize: 48,
  batchMaxWaitMicros: 500,
};

/**
 * A 2-cell map on the test Redis with random cell ids; the flash-sale and inventory pools default to SMALL_POOL,
 * the fraud pool to the cell defaults. `fraudByCell` overrides the fraud pool of one of the two cells.
 */
export function testMap(
  pools: Partial<{
    flashSale: Partial<FlashSalePoolSettings>;
    inventory: Partial<PoolSettings>;
    fraud: Partial<FraudPoolSettings>;
  }> = {},
  fraudByCell: readonly [Partial<FraudPoolSettings>?, Partial<FraudPoolSettings>?] = [],
): {
  map: CellMap;
  cells: [number, number];
} {
  const all: CellPools = {
    flashSale: { ...SMALL_POOL, ...pools.flashSale },
    inventory: { ...SMALL_POOL, ...pools.inventory },
    fraud: { ...DEFAULT_POOLS.fraud, ...pools.fraud },
  };
  const url = stackSetting('TITAN_REDIS_URL');
  const base = 1000 + Math.floor(Math.random() * 60_000);
  const raw = generateMap({ cells: 2, shards: 1, pools: all, redis: () => ({ url }) });
  const doc = JSON.parse(JSON.stringify(raw)) as CellMap;
  for (const c of doc.cells) {
    (c as { id: number }).id += base;
    (c as { backup: number }).backup += base;
  }
  for (const s of doc.slots) (s as { cell: number }).cell += base;
  doc.cells.forEach((c, i) => {
    const over = fraudByCell[i];
    if (over !== undefined) Object.assign(c.pools.fraud, over);
  });
  return { map: parseCellMap(JSON.stringify(doc)), cells: [base, base + 1] };
}

export interface TestEngine {
  engine: Engine;
  metrics: Metrics;
}

export function testEngine(map: CellMap, options: Partial<EngineOptions> = {}): TestEngine {
  const metrics = createMetrics({ defaultMetrics: false });
  const engine = createEngine({
    map,
    logger: createLogger({ name: 'engine-test', level: 'silent' }),
    metrics,
    ...options,
  });
  return { engine, metrics };
}

let shared: Promise<TitanScripts> | undefined;

/** Scripts on a test-side connection (setup and audit only; the engine's workers have their own). */
export function testScripts(): Promise<TitanScripts> {
  shared ??= loadScripts(new Redis(stackSetting('TITAN_REDIS_URL'), { maxRetriesPerRequest: 3 }));
  return shared;
}

export async function closeTestScripts(): Promise<void> {
  const s = shared;
  shared = undefined;
  if (s !== undefined) await ((await s).redis as Redis).quit();
}

/** A sale with `initial` units, `quota` of them in `cell`; its window is [1_000_000, 2_000_000) ms. */
export async function openSale(
  cell: number,
  opts: { initial: number; quota: number; perUserLimit: number },
): Promise<{ saleId: string; at: number }> {
  const s = await setupSale(await testScripts(), { ...opts, cell: String(cell) });
  return { saleId: s.saleId, at: s.startsAt + 1 };
}

export async function ledger(saleId: string, cells: readonly number[]): Promise<SaleLedger> {
  return readSaleLedger((await testScripts()).redis, saleId, cells.map(String));
}

/** Reservation records of a sale in a cell: rid -> { user, qty }. */
export async function reservations(
  cell: number,
  saleId: string,
): Promise<Map<string, { user: string; qty: number }>> {
  const raw = await (await testScripts()).redis.hgetall(`{c${cell}}:fs:${saleId}:r`);
  const out = new Map<string, { user: string; qty: number }>();
  for (const [rid, rec] of Object.entries(raw)) {
    const [, user, qty] = rec.split('|');
    out.set(rid, { user: user!, qty: Number(qty) });
  }
  return out;
}
