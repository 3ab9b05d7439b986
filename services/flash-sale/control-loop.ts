/**
 * The flash-sale control loop: loads upcoming sales into the cells, rebalances quota while they run,
 * sweeps expired reservations back to stock, finishes transfers a crash left pending, and keeps the
 * snapshot edges read (state and remaining stock per sale). Only the leader (a PostgreSQL advisory
 * lock) changes anything; every instance serves snapshots. Steps run one at a time (`exclusive`).
 */
import type { Logger, Pool, PoolClient } from '../kit/index.ts';
import type { CellsSide, Ledger } from './cells-side.ts';
import { type CellQuota, rebalance } from './domain/quota.ts';
import { type Sale, type SaleState, stateOf } from './domain/sale.ts';
import type { SaleStore } from './store.ts';

export interface SaleSnapshot {
  id: string;
  sku: string;
  title: string;
  priceMinor: number;
  currency: string;
  perUserLimit: number;
  startsAt: string;
  endsAt: string;
  powDifficulty: number;
  state: SaleState;
  remaining: number;
  updatedAt: number;
}

export interface ControlSettings {
  tickMs: number;
  sweepEveryMs: number;
  poolFraction: number;
  /** A cell whose quota drops under this (and that has demand) is topped up. */
  lowWatermark: number;
  /** Sales are loaded into the cells this long before they start (and at once when created later). */
  preloadMs: number;
}

export const DEFAULT_CONTROL: ControlSettings = {
  tickMs: 200,
  sweepEveryMs: 1000,
  poolFraction: 0.2,
  lowWatermark: 5,
  preloadMs: 10 * 60_000,
};

const LEADER_LOCK = 0x66736c65; // 'fsle'

/**
 * A control step's ledger read waits this long per cell: a cell that does not answer is left out of that
 * step (not topped up, counted unavailable) rather than delaying every other cell's top-up. Operators' ledger
 * reads wait longer (CellsSide's default).
 */
const STEP_READ_TIMEOUT_MS = 750;

export class ControlLoop {
  readonly #snapshots = new Map<string, SaleSnapshot>();
  readonly #demandSeen = new Map<string, Map<number, number>>();
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #leaderClient: PoolClient | undefined;
  #lastSweep = 0;
  #tick = 0;
  #stopped = false;

  constructor(
    private readonly store: SaleStore,
    private readonly cells: CellsSide,
    private readonly pool: Pool,
    private readonly log: Logger,
    private readonly settings: ControlSettings = DEFAULT_CONTROL,
    private readonly now: () => number = Date.now,
  ) {}

  snapshots(): SaleSnapshot[] {
    return [...this.#snapshots.values()];
  }

  snapshot(id: string): SaleSnapshot | undefined {
    return this.#snapshots.get(id);
  }

  /** Runs `fn` when no other step runs (steps never interleave their transfers). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #isLeader(): Promise<boolean> {
    if (this.#leaderClient) return true;
    const client = await this.pool.connect();
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK]);
    if (r.rows[0]?.ok) {
      this.#leaderClient = client;
      this.log.info('flash-sale control loop: leader');
      return true;
    }
    client.release();
    return false;
  }

  /** Loads a sale into the cells now (after create or update). */
  load(sale: Sale): Promise<void> {
    return this.exclusive(async () => {
      await this.cells.load(sale, this.settings.poolFraction, this.now());
      await this.store.markLoaded(sale.id);
      await this.#refresh(sale);
    });
  }

  /** Ends the sale in every cell now (an operator's early end): purchases answer ENDED from here on. */
  closeWindow(sale: Sale, endsAt: number): Promise<void> {
    return this.exclusive(async () => {
      await this.cells.closeWindow(sale, endsAt);
      await this.#refresh({ ...sale, endedEarlyAt: endsAt });
    });
  }

  ledger(sale: Sale): Promise<Ledger> {
    return this.exclusive(async () => {
      // With a shard down, interrupted transfers cannot all be finished: the ledger then says what it could read.
      await this.cells.recover(sale.id, this.now() + 10_000).catch(() => 0);
      return this.cells.ledger(sale);
    });
  }

  async #refresh(sale: Sale, ledger?: Ledger): Promise<Ledger> {
    const l = ledger ?? (await this.cells.ledger(sale, STEP_READ_TIMEOUT_MS));
    const remaining = l.pool + l.quotas;
    this.#snapshots.set(sale.id, {
      id: sale.id,
      sku: sale.sku,
      title: sale.title,
      priceMinor: sale.priceMinor,
      currency: sale.currency,
      perUserLimit: sale.perUserLimit,
      startsAt: new Date(sale.startsAt).toISOString(),
      endsAt: new Date(sale.endedEarlyAt ?? sale.endsAt).toISOString(),
      powDifficulty: sale.powDifficulty,
      state: stateOf(sale, remaining, this.now()),
      remaining,
      updatedAt: this.now(),
    });
    return l;
  }

  async step(): Promise<void> {
    const now = this.now();
    const leader = await this.#isLeader();
    const sales = await this.store.current(now, 60_000);
    const live = new Set(sales.map((s) => s.id));
    for (const id of this.#snapshots.keys()) if (!live.has(id)) this.#snapshots.delete(id);
    const sweep = now - this.#lastSweep >= this.settings.sweepEveryMs;
    if (sweep) this.#lastSweep = now;
    this.#tick++;
    for (const sale of sales) {
      // One sale's failure (e.g. its pool's shard is down) must not stop the others' control.
      await this.exclusive(async () => {
        if (leader && sale.loadedAt === null && sale.startsAt - now <= this.settings.preloadMs) {
          await this.cells.load(sale, this.settings.poolFraction, now);
          await this.store.markLoaded(sale.id);
          sale.loadedAt = now;
        }
        if (sale.loadedAt === null) return;
        const ledger = await this.#refresh(sale);
        const running = now >= sale.startsAt && now < (sale.endedEarlyAt ?? sale.endsAt);
        if (!leader) return;
        if (running) await this.#rebalance(sale, ledger, now);
        if (sweep) {
          await this.cells.sweep(sale.id, now, 500);
          await this.cells.recover(sale.id, now);
        }
      }).catch((err) =>
        this.log.error({ err, saleId: sale.id }, 'flash-sale control step failed for a sale'),
      );
    }
  }

  async #rebalance(sale: Sale, ledger: Ledger, now: number): Promise<void> {
    let seen = this.#demandSeen.get(sale.id);
    if (!seen) {
      seen = new Map();
      this.#demandSeen.set(sale.id, seen);
    }
    const quotas: CellQuota[] = [];
    // The pool's shard is down: every transfer involves the pool, so none is made until it is back.
    if (!ledger.poolAvailable) return;
    for (const [cellKey, c] of Object.entries(ledger.cells)) {
      const cell = Number(cellKey);
      const total = c.sold + c.reserved + c.soldOutAnswers;
      const demand = total - (seen.get(cell) ?? 0);
      seen.set(cell, total);
      quotas.push({ cell, quota: c.quota, demand });
    }
    const transfers = rebalance(ledger.pool, quotas, Math.max(this.settings.lowWatermark, sale.perUserLimit));
    if (transfers.length === 0) return;
    await this.cells.apply(sale.id, transfers, now, this.#tick);
    await this.#refresh(sale);
  }

  start(): void {
    const loop = async () => {
      if (this.#stopped) return;
      try {
        await this.step();
      } catch (err) {
        this.log.error({ err }, 'flash-sale control step failed');
      }
      if (!this.#stopped) {
        this.#timer = setTimeout(loop, this.settings.tickMs);
      }
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#queue;
    if (this.#leaderClient) {
      await this.#leaderClient.query('SELECT pg_advisory_unlock($1)', [LEADER_LOCK]).catch(() => {});
      this.#leaderClient.release();
      this.#leaderClient = undefined;
    }
  }
}
