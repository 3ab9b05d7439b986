/**
 * Everything the control plane does in the cells' Redis: opening a sale in every cell, splitting its
 * stock into cell quotas, moving quota while it runs, sweeping expired reservations, and reading the
 * ledger. The sale's unallocated pool lives on the shard of the sale's home cell (its id hashed like a user).
 */
import type { CellRouter, ShardClients } from '../../cells/index.ts';
import { configureSaleCell, createSale } from '../../lua/admin.ts';
import { saleCellKeys, salePoolKeys } from '../../lua/keys.ts';
import type { QuotaSide, TitanScripts } from '../../lua/loader.ts';
import { recoverTransfers, transferQuota } from '../../lua/quota-transfer.ts';
import { within } from '../kit/index.ts';
import { initialSplit, type Transfer } from './domain/quota.ts';
import type { Sale } from './domain/sale.ts';

export interface CellLedger {
  quota: number;
  reserved: number;
  sold: number;
  soldOutAnswers: number;
}

export interface Ledger {
  stock: number;
  pool: number;
  cells: Record<number, CellLedger>;
  sold: number;
  reserved: number;
  quotas: number;
  /** False when the pool's shard could not be read (`pool` is then 0). */
  poolAvailable: boolean;
  /** Cells whose shard could not be read (absent from `cells` and the sums). */
  unavailable: number[];
  /** sold + reserved + quotas + pool == stock, every part read (after pending transfers were recovered). */
  balanced: boolean;
}

/** How long a ledger read waits for one cell (or the pool) before counting it unavailable; see `ledger`. */
export const LEDGER_READ_TIMEOUT_MS = 5000;

export class CellsSide {
  constructor(
    private readonly shards: ShardClients,
    private readonly router: () => CellRouter,
  ) {}

  /** The pool's cell: the owner of the sale id's slot, NOT its serving cell (a failover must not move the pool). */
  #homeCell(saleId: string): number {
    return this.router().cellOf(saleId);
  }

  /** Scripts resolver for one sale (the pool side depends on the sale). */
  #resolver(saleId: string): (side: QuotaSide) => TitanScripts {
    return (side) => {
      const r = this.router();
      return this.shards.scriptsFor(r, side === 'pool' ? this.#homeCell(saleId) : Number(side.cell));
    };
  }

  /** False while the cell's shard is known to be down (ShardClients' health pings): skip it, don't time out on it. */
  #up(cell: number): boolean {
    return this.shards.cellUp(this.router(), cell);
  }

  /** Users' share per serving cell: a down cell's slots count for the cell that serves them. */
  servingShares(): Map<number, number> {
    const r = this.router();
    const shares = new Map<number, number>(r.cells.map((c) => [c, 0]));
    for (let slot = 0; slot < r.map.slotCount; slot++) {
      const cell = r.routeSlot(slot);
      shares.set(cell, (shares.get(cell) ?? 0) + 1);
    }
    return shares;
  }

  /**
   * Opens the sale in every cell of the map and splits its stock: `poolFraction` stays in the pool for
   * the rebalancer, the rest goes to cells by their users' share. Idempotent (transfer ids are fixed).
   */
  async load(sale: Sale, poolFraction: number, now: number): Promise<void> {
    const r = this.router();
    const resolve = this.#resolver(sale.id);
    await createSale(resolve('pool').redis, { saleId: sale.id, initial: sale.stock });
    for (const cell of r.cells) {
      await configureSaleCell(this.shards.clientFor(r, cell), {
        cell: String(cell),
        saleId: sale.id,
        startsAt: sale.startsAt,
        endsAt: sale.endedEarlyAt ?? sale.endsAt,
        perUserLimit: sale.perUserLimit,
        reservationTtlMs: sale.reservationTtlMs,
      });
    }
    for (const [cell, amount] of initialSplit(sale.stock, this.servingShares(), poolFraction)) {
      if (amount <= 0) continue;
      await transferQuota(resolve, {
        saleId: sale.id,
        transferId: `init-${cell}`,
        amount,
        from: 'pool',
        to: { cell: String(cell) },
        now,
      });
    }
  }

  /** Re-opens the sale in every cell with a new window (used when a sale ends early). */
  async closeWindow(sale: Sale, endsAt: number): Promise<void> {
    const r = this.router();
    for (const cell of r.cells) {
      await configureSaleCell(this.shards.clientFor(r, cell), {
        cell: String(cell),
        saleId: sale.id,
        startsAt: Math.min(sale.startsAt, endsAt - 1),
        endsAt,
        perUserLimit: sale.perUserLimit,
        reservationTtlMs: sale.reservationTtlMs,
      });
    }
  }

  async apply(saleId: string, transfers: readonly Transfer[], now: number, tick: number): Promise<void> {
    const resolve = this.#resolver(saleId);
    let i = 0;
    for (const t of transfers) {
      const side = (x: number | 'pool'): QuotaSide => (x === 'pool' ? 'pool' : { cell: String(x) });
      await transferQuota(resolve, {
        saleId,
        transferId: `rb-${now.toString(36)}-${tick}-${i++}`,
        amount: t.amount,
        from: side(t.from),
        to: side(t.to),
        now,
      });
    }
  }

  async sweep(saleId: string, now: number, limit: number): Promise<number> {
    const r = this.router();
    let expired = 0;
    for (const cell of r.cells) {
      if (!this.#up(cell)) continue;
      let more = true;
      try {
        for (let rounds = 0; more && rounds < 10; rounds++) {
          const out = await this.shards
            .scriptsFor(r, cell)
            .reservationSweep({ cell: String(cell), saleId, now, limit });
          expired += out.expired;
          more = out.more;
        }
      } catch {
        // The cell's shard is unreachable: its expiries wait for it; the other cells are swept.
      }
    }
    return expired;
  }

  async recover(saleId: string, now: number): Promise<number> {
    const r = this.router();
    // Transfers logged on a down shard wait for it (their units are counted nowhere else meanwhile).
    if (!this.#up(this.#homeCell(saleId))) return 0;
    const done = await recoverTransfers(this.#resolver(saleId), {
      saleId,
      cells: r.cells.filter((c) => this.#up(c)).map(String),
      now,
      minAgeMs: 5_000,
    });
    return done.length;
  }

  /**
   * The sale's ledger. A cell (or the pool) whose shard cannot be read within `readTimeoutMs` is listed in
   * `unavailable` instead of failing the whole read: the control plane goes on serving and rebalancing the
   * other cells while a shard (or a cluster master, before its health ping notices) is down. The control step
   * reads with a short timeout, so one silent master cannot hold up every cell's top-ups. The ledger only
   * counts as balanced when every part was read.
   */
  async ledger(sale: Sale, readTimeoutMs = LEDGER_READ_TIMEOUT_MS): Promise<Ledger> {
    const r = this.router();
    const pk = salePoolKeys(sale.id);
    const cells: Record<number, CellLedger> = {};
    const unavailable: number[] = [];
    let sold = 0;
    let reserved = 0;
    let quotas = 0;
    const down = () => Promise.reject(new Error('shard down'));
    const bounded = <T>(read: Promise<T>) => within(read, readTimeoutMs, 'ledger read timed out');
    const [poolRead, ...cellReads] = await Promise.allSettled([
      this.#up(this.#homeCell(sale.id))
        ? bounded(this.#resolver(sale.id)('pool').redis.hget(pk.pool, 'pool'))
        : down(),
      ...r.cells.map((cell) =>
        this.#up(cell)
          ? bounded(
              this.shards
                .clientFor(r, cell)
                .hmget(saleCellKeys(String(cell), sale.id).sale, 'q', 'r', 's', 'so'),
            )
          : down(),
      ),
    ]);
    r.cells.forEach((cell, i) => {
      const read = cellReads[i]!;
      if (read.status === 'rejected') {
        unavailable.push(cell);
        return;
      }
      const [q, rs, s, so] = read.value;
      const c = {
        quota: Number(q ?? 0),
        reserved: Number(rs ?? 0),
        sold: Number(s ?? 0),
        soldOutAnswers: Number(so ?? 0),
      };
      cells[cell] = c;
      sold += c.sold;
      reserved += c.reserved;
      quotas += c.quota;
    });
    const poolAvailable = poolRead!.status === 'fulfilled';
    const pool = poolAvailable ? Number(poolRead.value ?? 0) : 0;
    return {
      stock: sale.stock,
      pool,
      poolAvailable,
      cells,
      unavailable,
      sold,
      reserved,
      quotas,
      balanced: poolAvailable && unavailable.length === 0 && sold + reserved + quotas + pool === sale.stock,
    };
  }
}
