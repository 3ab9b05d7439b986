/**
 * The engine: per cell and job kind, a batching dispatcher in front of a Piscina pool, all created lazily on
 * the first request for that cell, so idle cells cost nothing. Settings come from the cell map; `tune` and
 * `applyMap` change them live.
 */
import type { ResourceLimits } from 'node:worker_threads';
import {
  type CellMap,
  CellRouter,
  type PoolName,
  type PoolSettings,
  type PoolSettingsPatch,
  type RunOn,
  tune as tuneMap,
} from '../cells/index.ts';
import type { Logger } from '../services/kit/logger.ts';
import type { Metrics } from '../services/kit/metrics.ts';
import { fraudBatchKey, InventoryOp } from './codec.ts';
import { type BatchObserver, Dispatcher } from './dispatcher.ts';
import { EngineErrors } from './errors.ts';
import type { FraudRequest } from './fraud/index.ts';
import { InLoopPool } from './in-loop-pool.ts';
import { flashSaleCodec, fraudCodec, HARD_MAX_BATCH, inventoryCodec, WORKER_FILES } from './kinds.ts';
import { EngineMetrics, type PoolSample } from './metrics.ts';
import type {
  CartCommitOutcome,
  CartReleaseOutcome,
  CartReserveOutcome,
  CartReserveRequest,
  FlashSaleRequest,
  FraudOutcome,
  PurchaseOutcome,
} from './outcomes.ts';
import { type EnginePool, WorkerPool, type WorkerPoolStats } from './pool.ts';
import { checkCartReserve, checkFraud, checkHoldId, checkPurchase } from './validate.ts';
import type { EngineWorkerData } from './workers/connection.ts';

export interface EngineOptions {
  /** The cell map (validated) or a router built from it. */
  readonly map: CellMap | CellRouter;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Backstop per task, queue wait included: a task not answered by then is aborted and answered `retry`. */
  readonly taskTimeoutMs?: number;
  /** V8 limits of every worker thread. */
  readonly resourceLimits?: ResourceLimits;
  /**
   * On Redis Cluster shards: after each flash-sale batch, `WAIT replicas timeoutMs` on the master that ran it,
   * and answer the batch `retry` (not reserved) unless that many replicas have it, so a failover cannot drop a
   * purchase a buyer was told about. Default { replicas: 1, timeoutMs: 500 }; replicas 0 turns it off.
   * Single-server shards have no replicas and never wait.
   */
  readonly replicaWait?: { readonly replicas: number; readonly timeoutMs: number };
  /**
   * Tests only (fault injection): replaces a pool's worker module. Nothing a client sends can reach it.
   */
  readonly testing?: { readonly workerFiles?: Partial<Record<PoolName, URL>> };
}

export const DEFAULT_TASK_TIMEOUT_MS = 5_000;

/**
 * A worker's own deadline for Redis in one task: half the task timeout, which counts queue wait as well, so
 * a batch stuck on an unreachable node answers retry itself well before the pool would abort it (an abort
 * ends the thread).
 */
export function taskBudgetMs(taskTimeoutMs: number): number {
  return Math.max(1, Math.floor(taskTimeoutMs / 2));
}
export const DEFAULT_REPLICA_WAIT = { replicas: 1, timeoutMs: 500 } as const;

export interface PoolStats extends WorkerPoolStats {
  readonly cell: number;
  readonly pool: PoolName;
  readonly settings: PoolSettings;
  /** Where the lane's batches run: its worker threads, or the event loop (flash-sale `runOn`). */
  readonly runOn: RunOn;
  /** Requests waiting in the dispatcher for their batch to be sent. */
  readonly pendingRequests: number;
  readonly batches: number;
  readonly requests: number;
  readonly busyRejections: number;
  readonly retriableFailures: number;
  readonly luaCalls: number;
}

interface Counters {
  batches: number;
  requests: number;
  busy: number;
  retries: number;
  luaCalls: number;
}

interface Lane<Out> {
  readonly cell: number;
  readonly pool: PoolName;
  readonly workers: EnginePool;
  /** Where its batches run (flash-sale lanes; the others always use workers). */
  readonly runOn: RunOn;
  readonly dispatcher: Dispatcher<Out>;
  readonly counters: Counters;
}

/** The fraud lane batches per cell and per thresholds: its batch key is the cell's current thresholds. */
interface FraudLane extends Lane<FraudOutcome> {
  batchKey: string;
}

interface CellLanes {
  flashSale?: Lane<PurchaseOutcome>;
  inventory?: Lane<unknown>;
  fraud?: FraudLane;
}

type AnyLane = NonNullable<CellLanes[keyof CellLanes]>;

function lanesOf(lanes: CellLanes): AnyLane[] {
  const out: AnyLane[] = [];
  if (lanes.flashSale !== undefined) out.push(lanes.flashSale);
  if (lanes.inventory !== undefined) out.push(lanes.inventory);
  if (lanes.fraud !== undefined) out.push(lanes.fraud);
  return out;
}

function counting(counters: Counters, next: BatchObserver): BatchObserver {
  return {
    batch(size) {
      counters.batches++;
      counters.requests += size;
      next.batch(size);
    },
    reply(submittedAt, startedAt, runMicros, luaCalls) {
      counters.luaCalls += luaCalls;
      next.reply(submittedAt, startedAt, runMicros, luaCalls);
    },
    busy() {
      counters.busy++;
      next.busy();
    },
    retry(n) {
      counters.retries += n;
      next.retry(n);
    },
  };
}

export class Engine {
  #router: CellRouter;
  readonly #logger: Logger;
  readonly #metrics: EngineMetrics;
  readonly #removeSource: () => void;
  readonly #options: EngineOptions;
  readonly #cells = new Map<number, CellLanes>();
  /** Pools warm() was asked for: cells a new map adds are warmed too. */
  readonly #warmPools = new Set<PoolName>();
  /** Lanes of cells removed by applyMap, still draining. */
  readonly #retiring = new Set<Promise<void>>();
  #closing: Promise<void> | null = null;

  constructor(options: EngineOptions) {
    const wait = options.replicaWait ?? DEFAULT_REPLICA_WAIT;
    const budget = taskBudgetMs(options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS);
    if (wait.replicas > 0 && wait.timeoutMs >= budget) {
      // Every batch that waited its full WAIT timeout would be answered retry before WAIT could answer.
      throw EngineErrors.ENGINE_BAD_REQUEST(
        `the WAIT timeout (${wait.timeoutMs} ms) must be below a worker's budget per task, half the task timeout (${budget} ms)`,
        { waitTimeoutMs: wait.timeoutMs, budgetMs: budget },
      );
    }
    this.#options = options;
    this.#router = options.map instanceof CellRouter ? options.map : new CellRouter(options.map);
    this.#logger = options.logger;
    this.#metrics = new EngineMetrics(options.metrics);
    this.#removeSource = this.#metrics.addSource(() => this.#samples());
  }

  get map(): CellMap {
    return this.#router.map;
  }
  get router(): CellRouter {
    return this.#router;
  }

  /** One purchase attempt; joins the cell's flash-sale batch for its sale. Bad input rejects ENGINE_BAD_REQUEST. */
  flashSale(cell: number, request: FlashSaleRequest): Promise<PurchaseOutcome> {
    try {
      const at = checkPurchase(request);
      const lane = this.#flashSaleLane(cell);
      return lane.dispatcher.submit(
        request.saleId,
        request.userId,
        request.quantity,
        request.idempotencyKey,
        at,
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** All-or-nothing hold of several SKUs of the cell's ordinary stock, idempotent by holdId. */
  reserveCart(cell: number, request: CartReserveRequest): Promise<CartReserveOutcome> {
    try {
      const items = checkCartReserve(request);
      return this.#inventory(
        cell,
        InventoryOp.RESERVE,
        request.holdId,
        request.ttlMs,
        items,
      ) as Promise<CartReserveOutcome>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  commitCart(cell: number, request: { readonly holdId: string }): Promise<CartCommitOutcome> {
    try {
      return this.#inventory(
        cell,
        InventoryOp.COMMIT,
        checkHoldId(request?.holdId),
        0,
        null,
      ) as Promise<CartCommitOutcome>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  releaseCart(cell: number, request: { readonly holdId: string }): Promise<CartReleaseOutcome> {
    try {
      return this.#inventory(
        cell,
        InventoryOp.RELEASE,
        checkHoldId(request?.holdId),
        0,
        null,
      ) as Promise<CartReleaseOutcome>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Scores one checkout attempt: it joins the cell's open fraud batch; the batch's worker records the batch's
   * velocity counters in ONE Lua call and scores it at the cell's `pools.fraud` thresholds. Bad input rejects
   * ENGINE_BAD_REQUEST; expected answers (scored, busy, retry) resolve.
   */
  fraudScore(cell: number, request: FraudRequest): Promise<FraudOutcome> {
    try {
      const tuple = checkFraud(request);
      const lane = this.#fraudLane(cell);
      return lane.dispatcher.submit(lane.batchKey, tuple, 0, 0, 0);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Starts `pool`'s lanes in every cell of the map (threads, modules, Redis connections) before traffic needs
   * them, so the first buyers of a sale are served at full speed. Idempotent; resolves when the threads have
   * answered a warm-up task (failures are logged: the first batch would start them anyway).
   */
  warm(pool: PoolName = 'flashSale'): Promise<void> {
    if (this.#closing !== null) return Promise.resolve();
    this.#warmPools.add(pool);
    const lanes = this.#router.cells.map((cell) =>
      pool === 'flashSale'
        ? this.#flashSaleLane(cell)
        : pool === 'inventory'
          ? this.#inventoryLane(cell)
          : this.#fraudLane(cell),
    );
    return Promise.all(lanes.map((lane) => lane.workers.warm())).then(() => undefined);
  }

  /**
   * Changes some settings of one pool of one cell, validated by the cell map's rules (CELL_MAP_INVALID names the
   * field); the pool resizes without failing in-flight tasks. Returns the new map (version + 1).
   */
  tune<P extends PoolName>(cell: number, pool: P, patch: PoolSettingsPatch<P>): CellMap {
    const next = tuneMap(this.#router.map, cell, pool, patch);
    this.applyMap(next);
    return next;
  }

  /** Switches to a new map version: changed pools resize, removed cells drain and close, new cells start lazily. */
  applyMap(map: CellMap | CellRouter): void {
    this.#assertOpen();
    const router = map instanceof CellRouter ? map : new CellRouter(map);
    this.#router = router;
    for (const [cell, lanes] of this.#cells) {
      const flash = lanes.flashSale;
      if (flash !== undefined && router.has(cell) && flash.runOn !== runOnOf(router, cell)) {
        // Another place to run on is another lane: the new one starts with the next request (or warm-up),
        // the old one drains its batches and closes.
        lanes.flashSale = undefined;
        const done = this.#closeLanes({ flashSale: flash }).finally(() => this.#retiring.delete(done));
        this.#retiring.add(done);
        this.#logger.info({ cell, runOn: runOnOf(router, cell) }, 'engine flash-sale lane moved');
      }
      if (!router.has(cell)) {
        this.#cells.delete(cell);
        const done = this.#closeLanes(lanes).finally(() => this.#retiring.delete(done));
        this.#retiring.add(done);
        this.#logger.info({ cell }, 'engine cell removed; its pools drain and close');
        continue;
      }
      const pools = router.pools(cell);
      const workerData = this.#workerData(router, cell);
      for (const lane of lanesOf(lanes)) {
        const settings = pools[lane.pool];
        lane.workers.resize(settings, workerData);
        lane.dispatcher.configure(settings);
      }
      // thresholds change in place: batches formed from now on carry the new ones
      if (lanes.fraud !== undefined) lanes.fraud.batchKey = fraudBatchKey(pools.fraud);
    }
    for (const pool of this.#warmPools) void this.warm(pool);
  }

  /**
   * Fault injection for chaos runs: kills one running worker thread of `pool` (a random cell that has
   * threads), as a crash in the middle of its batches. Returns the cell hit, or undefined when none runs.
   */
  killWorker(pool: PoolName = 'flashSale'): number | undefined {
    const lanes = [...this.#cells.values()].map((l) => l[pool]).filter((l) => l !== undefined);
    for (const lane of lanes.sort(() => Math.random() - 0.5)) {
      if (lane.workers.killThread()) return lane.cell;
    }
    return undefined;
  }

  /** Per cell and pool that has been used: queue depth, utilization, threads, counts. */
  stats(): PoolStats[] {
    const out: PoolStats[] = [];
    for (const lanes of this.#cells.values()) {
      for (const lane of lanesOf(lanes)) {
        const c = lane.counters;
        out.push({
          cell: lane.cell,
          pool: lane.pool,
          settings: lane.workers.settings,
          runOn: lane.runOn,
          ...lane.workers.stats(),
          pendingRequests: lane.dispatcher.pendingRequests,
          batches: c.batches,
          requests: c.requests,
          busyRejections: c.busy,
          retriableFailures: c.retries,
          luaCalls: c.luaCalls,
        });
      }
    }
    return out;
  }

  /** Stops taking requests, sends the open batches, waits for every answer, then closes pools and connections. */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closing = (async () => {
        const all = [...this.#cells.values()];
        this.#cells.clear();
        await Promise.all([...all.map((l) => this.#closeLanes(l)), ...this.#retiring]);
        this.#removeSource();
      })();
    }
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing !== null) throw EngineErrors.ENGINE_CLOSED();
  }

  #inventory(cell: number, op: number, holdId: string, ttlMs: number, items: unknown): Promise<unknown> {
    return this.#inventoryLane(cell).dispatcher.submit('', op, holdId, ttlMs, items);
  }

  #lanesOf(cell: number): CellLanes {
    let lanes = this.#cells.get(cell);
    if (lanes === undefined) {
      this.#assertOpen();
      if (!this.#router.has(cell)) {
        throw EngineErrors.ENGINE_UNKNOWN_CELL(
          `no cell ${cell} in cell map version ${this.#router.version}`,
          {
            cell,
          },
        );
      }
      lanes = {};
      this.#cells.set(cell, lanes);
    }
    return lanes;
  }

  #flashSaleLane(cell: number): Lane<PurchaseOutcome> {
    const lanes = this.#lanesOf(cell);
    if (lanes.flashSale === undefined) lanes.flashSale = this.#createLane(cell, 'flashSale', flashSaleCodec);
    return lanes.flashSale;
  }

  #inventoryLane(cell: number): Lane<unknown> {
    const lanes = this.#lanesOf(cell);
    if (lanes.inventory === undefined) lanes.inventory = this.#createLane(cell, 'inventory', inventoryCodec);
    return lanes.inventory;
  }

  #fraudLane(cell: number): FraudLane {
    const lanes = this.#lanesOf(cell);
    if (lanes.fraud === undefined) {
      const lane = this.#createLane(cell, 'fraud', fraudCodec);
      lanes.fraud = { ...lane, batchKey: fraudBatchKey(this.#router.pools(cell).fraud) };
    }
    return lanes.fraud;
  }

  #createLane<Out>(
    cell: number,
    pool: PoolName,
    codec: ConstructorParameters<typeof Dispatcher<Out>>[1],
  ): Lane<Out> {
    this.#assertOpen();
    const file = this.#options.testing?.workerFiles?.[pool] ?? WORKER_FILES[pool];
    if (file === null) throw EngineErrors.ENGINE_POOL_UNAVAILABLE(`pool ${pool} has no worker yet`, { pool });
    const settings = this.#router.pools(cell)[pool];
    const runOn: RunOn = pool === 'flashSale' ? runOnOf(this.#router, cell) : 'workers';
    const workerData = this.#workerData(this.#router, cell);
    const workers: EnginePool =
      runOn === 'event-loop'
        ? new InLoopPool({ cell, settings, workerData, logger: this.#logger })
        : new WorkerPool({
            cell,
            pool,
            filename: file.href,
            settings,
            workerData,
            taskTimeoutMs: this.#options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS,
            logger: this.#logger,
            ...(this.#options.resourceLimits === undefined
              ? {}
              : { resourceLimits: this.#options.resourceLimits }),
          });
    const counters: Counters = { batches: 0, requests: 0, busy: 0, retries: 0, luaCalls: 0 };
    const observer = counting(counters, this.#metrics.observer(String(cell), pool));
    const dispatcher = new Dispatcher<Out>(workers, codec, settings, {
      hardMax: HARD_MAX_BATCH[pool],
      observer,
    });
    return { cell, pool, workers, runOn, dispatcher, counters };
  }

  #workerData(router: CellRouter, cell: number): EngineWorkerData {
    const redis = router.shardOfCell(cell).redis;
    const wait = this.#options.replicaWait ?? DEFAULT_REPLICA_WAIT;
    const budgetMs = taskBudgetMs(this.#options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS);
    return 'cluster' in redis && wait.replicas > 0
      ? {
          cell: String(cell),
          redis,
          budgetMs,
          replicaWait: { replicas: wait.replicas, timeoutMs: wait.timeoutMs },
        }
      : { cell: String(cell), redis, budgetMs };
  }

  async #closeLanes(lanes: CellLanes): Promise<void> {
    const list = lanesOf(lanes);
    for (const l of list) l.dispatcher.flushAll();
    await Promise.all(list.map((l) => l.dispatcher.idle()));
    await Promise.all(list.map((l) => l.workers.close()));
  }

  *#samples(): Iterable<PoolSample> {
    for (const lanes of this.#cells.values()) {
      for (const lane of lanesOf(lanes)) {
        const s = lane.workers.stats();
        yield {
          cell: String(lane.cell),
          pool: lane.pool,
          queueDepth: s.queueDepth,
          pendingRequests: lane.dispatcher.pendingRequests,
          utilization: s.utilization,
          threads: s.threads,
        };
      }
    }
  }
}

function runOnOf(router: CellRouter, cell: number): RunOn {
  return router.pools(cell).flashSale.runOn ?? 'workers';
}

export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}
