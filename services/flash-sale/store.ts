/** The flash-sale service's storage: sale definitions and admin idempotency records. */
import type { Pool, PoolClient } from '../kit/index.ts';
import type { Sale } from './domain/sale.ts';

interface SaleRow {
  id: string;
  sku: string;
  title: string;
  price_minor: string;
  currency: string;
  stock: number;
  per_user_limit: number;
  starts_at: Date;
  ends_at: Date;
  pow_difficulty: number;
  reservation_ttl_ms: number;
  paused: boolean;
  ended_early_at: Date | null;
  loaded_at: Date | null;
}

const toSale = (r: SaleRow): Sale => ({
  id: r.id,
  sku: r.sku,
  title: r.title,
  priceMinor: Number(r.price_minor),
  currency: r.currency,
  stock: r.stock,
  perUserLimit: r.per_user_limit,
  startsAt: r.starts_at.getTime(),
  endsAt: r.ends_at.getTime(),
  powDifficulty: r.pow_difficulty,
  reservationTtlMs: r.reservation_ttl_ms,
  paused: r.paused,
  endedEarlyAt: r.ended_early_at?.getTime() ?? null,
  loadedAt: r.loaded_at?.getTime() ?? null,
});

export class SaleStore {
  constructor(readonly pool: Pool) {}

  async insert(
    s: Omit<Sale, 'paused' | 'endedEarlyAt' | 'loadedAt'>,
    createdBy: string | null,
    db: Pool | PoolClient = this.pool,
  ): Promise<Sale> {
    const r = await db.query<SaleRow>(
      `INSERT INTO flash_sales (id, sku, title, price_minor, currency, stock, per_user_limit, starts_at, ends_at,
         pow_difficulty, reservation_ttl_ms, created_by)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING *`,
      [
        s.id,
        s.sku,
        s.title,
        s.priceMinor,
        s.currency,
        s.stock,
        s.perUserLimit,
        new Date(s.startsAt),
        new Date(s.endsAt),
        s.powDifficulty,
        s.reservationTtlMs,
        createdBy,
      ],
    );
    return toSale(r.rows[0]!);
  }

  async get(id: string): Promise<Sale | undefined> {
    const r = await this.pool.query<SaleRow>('SELECT * FROM flash_sales WHERE id = $1', [id]);
    return r.rows[0] && toSale(r.rows[0]);
  }

  /** Sales not over yet, or over for less than `graceMs` (so sweeps and final snapshots still run). */
  async current(now: number, graceMs: number): Promise<Sale[]> {
    const r = await this.pool.query<SaleRow>(
      `SELECT * FROM flash_sales
       WHERE coalesce(ended_early_at, ends_at) > $1 ORDER BY starts_at`,
      [new Date(now - graceMs)],
    );
    return r.rows.map(toSale);
  }

  /** Updates a sale only while it has not started; false when it has (checked in the same statement). */
  async updateBeforeStart(id: string, s: Sale, now: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE flash_sales SET sku=$2, title=$3, price_minor=$4, currency=$5, stock=$6, per_user_limit=$7,
         starts_at=$8, ends_at=$9, pow_difficulty=$10, reservation_ttl_ms=$11, loaded_at = NULL, updated_at=now()
       WHERE id=$1 AND starts_at > $12 AND ended_early_at IS NULL`,
      [
        id,
        s.sku,
        s.title,
        s.priceMinor,
        s.currency,
        s.stock,
        s.perUserLimit,
        new Date(s.startsAt),
        new Date(s.endsAt),
        s.powDifficulty,
        s.reservationTtlMs,
        new Date(now),
      ],
    );
    return r.rowCount === 1;
  }

  async setPaused(id: string, paused: boolean): Promise<boolean> {
    const r = await this.pool.query(
      'UPDATE flash_sales SET paused=$2, updated_at=now() WHERE id=$1 AND ended_early_at IS NULL',
      [id, paused],
    );
    return r.rowCount === 1;
  }

  async endNow(id: string, now: number): Promise<boolean> {
    const r = await this.pool.query(
      'UPDATE flash_sales SET ended_early_at=$2, updated_at=now() WHERE id=$1 AND ended_early_at IS NULL AND ends_at > $2',
      [id, new Date(now)],
    );
    return r.rowCount === 1;
  }

  async markLoaded(id: string): Promise<void> {
    await this.pool.query('UPDATE flash_sales SET loaded_at=now() WHERE id=$1', [id]);
  }

  /** The stored answer of an admin request with this Idempotency-Key, if any. */
  async idempotent(
    scope: string,
    key: string,
  ): Promise<{ fingerprint: string; status: number; body: unknown } | undefined> {
    const r = await this.pool.query(
      'SELECT fingerprint, status, body FROM flash_sale_requests WHERE scope=$1 AND key=$2',
      [scope, key],
    );
    return r.rows[0];
  }

  async remember(
    scope: string,
    key: string,
    fingerprint: string,
    status: number,
    body: unknown,
    db: Pool | PoolClient = this.pool,
  ): Promise<boolean> {
    const r = await db.query(
      `INSERT INTO flash_sale_requests (scope, key, fingerprint, status, body) VALUES ($1,$2,$3,$4,$5)
       ON CONFLICT DO NOTHING`,
      [scope, key, fingerprint, status, JSON.stringify(body)],
    );
    return r.rowCount === 1;
  }
}
