/**
 * A flash-sale lane that runs its batches on the edge's own event loop (cell setting `runOn: event-loop`): the
 * same batch runner as the worker thread (workers/flash-sale-batch.ts) on a connection of its own, without the
 * thread hop. It exists to measure what the hop costs (native-bench, `purchase` scenario) and for cells where
 * the loop has room to spare; admission is the same slot count as a worker pool's, so backpressure is alike.
 */
import type { PoolSettings } from '../cells/index.ts';
import type { TitanScripts } from '../lua/loader.ts';
import type { Logger } from '../services/kit/logger.ts';
import { type EnginePool, hasTaskSlot, type WorkerPoolStats } from './pool.ts';
import { type EngineWorkerData, openCellScripts } from './workers/connection.ts';
import { flashSaleBatchRunner } from './workers/flash-sale-batch.ts';

interface Connection {
  readonly data: EngineWorkerData;
  readonly ready: Promise<{ scripts: TitanScripts; run: (task: Uint8Array) => Promise<Uint8Array> }>;
  inFlight: number;
  /** Set by a retirement waiting for the last in-flight batch. */
  drained?: () => void;
}

export class InLoopPool implements EnginePool {
  readonly #logger: Logger;
  readonly #cell: number;
  #settings: PoolSettings;
  #conn: Connection;
  #generation = 1;
  readonly #retiring = new Set<Promise<void>>();
  #reserved = 0;
  #completed = 0;
  #ewmaTaskMs = 1;
  #closed = false;

  constructor(options: {
    cell: number;
    settings: PoolSettings;
    workerData: EngineWorkerData;
    logger: Logger;
  }) {
    this.#cell = options.cell;
    this.#logger = options.logger;
    this.#settings = { ...options.settings };
    this.#conn = this.#open(options.workerData);
  }

  get settings(): PoolSettings {
    return this.#settings;
  }

  tryReserve(): boolean {
    if (this.#closed || !hasTaskSlot(this.#settings, this.#reserved, this.#conn.inFlight)) return false;
    this.#reserved++;
    return true;
  }

  retryAfterMs(): number {
    return Math.min(5000, Math.max(1, Math.ceil(this.#ewmaTaskMs)));
  }

  async run(task: Uint8Array): Promise<Uint8Array> {
    this.#reserved--;
    const conn = this.#conn;
    conn.inFlight++;
    const started = performance.now();
    try {
      const { run } = await conn.ready;
      return await run(task);
    } finally {
      this.#ewmaTaskMs += (performance.now() - started - this.#ewmaTaskMs) * 0.1;
      this.#completed++;
      if (--conn.inFlight === 0) conn.drained?.();
    }
  }

  /** The connection is opened at construction; warming waits for it. */
  async warm(): Promise<void> {
    await this.#conn.ready.then(
      () => undefined,
      (err: unknown) => this.#logger.warn({ cell: this.#cell, err }, 'engine in-loop lane warm-up failed'),
    );
  }

  killThread(): boolean {
    return false;
  }

  /** A new Redis endpoint opens a new connection; the old one closes once its batches are answered. */
  resize(settings: PoolSettings, workerData: unknown): boolean {
    this.#settings = { ...settings };
    if (JSON.stringify(workerData) === JSON.stringify(this.#conn.data)) return false;
    const old = this.#conn;
    this.#conn = this.#open(workerData as EngineWorkerData);
    this.#generation++;
    this.#retire(old);
    return true;
  }

  stats(): WorkerPoolStats {
    return {
      queueDepth: 0,
      inFlightTasks: this.#conn.inFlight,
      threads: 0,
      utilization: 0,
      completedTasks: this.#completed,
      generation: this.#generation,
      draining: this.#retiring.size,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#retire(this.#conn);
    await Promise.all([...this.#retiring]);
  }

  #open(data: EngineWorkerData): Connection {
    const ready = openCellScripts(data).then((scripts) => ({
      scripts,
      run: flashSaleBatchRunner(data, scripts),
    }));
    ready.catch(() => {}); // surfaced by run() and warm()
    return { data, ready, inFlight: 0 };
  }

  #retire(conn: Connection): void {
    const done = (async () => {
      if (conn.inFlight > 0) await new Promise<void>((r) => (conn.drained = r));
      const { scripts } = await conn.ready;
      await scripts.redis.quit().catch(() => {});
    })()
      .catch(() => {})
      .finally(() => this.#retiring.delete(done));
    this.#retiring.add(done);
  }
}
