/**
 * Snapshots of the state a request could change, to prove a rejected request changed nothing:
 * every PostgreSQL table (a digest of its rows, minus columns only background loops write), the users
 * row count, the cell map version, and the live sale's ledger and cell keys in Redis.
 */
import { saleCellKeys, salePoolKeys } from '../../../lua/keys.ts';
import type { FuzzTarget } from './fuzz-target.ts';

export interface SaleState {
  /** sold + reserved over every cell: moves only with successful purchases (no expiry during a run). */
  taken: number;
  reservations: number;
  expiries: number;
  /** How many of the sale's cell keys (sale, users, reservations, expiry per cell, pool) exist. */
  keys: number;
  /** Fields of the cells' users hashes: a 409 business answer is recorded there for replays, by design. */
  userFields: number;
}

export interface StateSnapshot {
  tables: Record<string, string>;
  users: number;
  mapVersion: number;
  sale: SaleState;
}

/** Tables written only by background loops or by nothing a client reaches, and columns of that kind. */
const SKIP_TABLES = new Set(['titan_outbox', 'titan_event_applied', 'titan_migrations']);
const SKIP_COLUMNS: Record<string, string[]> = { flash_sales: ['loaded_at', 'updated_at'] };

export class StateProbe {
  #tables: { name: string; columns: string[] }[] | undefined;
  constructor(private readonly t: FuzzTarget) {}

  async #tableList() {
    if (this.#tables) return this.#tables;
    const r = await this.t.h.identity.db.pool.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    );
    const by = new Map<string, string[]>();
    for (const row of r.rows) {
      if (SKIP_TABLES.has(row.table_name) || row.table_name.includes('migration')) continue;
      if (SKIP_COLUMNS[row.table_name]?.includes(row.column_name)) continue;
      if (!by.has(row.table_name)) by.set(row.table_name, []);
      by.get(row.table_name)!.push(row.column_name);
    }
    this.#tables = [...by].map(([name, columns]) => ({ name, columns }));
    return this.#tables;
  }

  async sale(saleId = this.t.liveSaleId): Promise<SaleState> {
    const router = this.t.h.edge.routing.router;
    const redis = this.t.h.edge.shards.redisFor(router, router.cells[0]!);
    const pipe = redis.pipeline();
    const names: string[] = [salePoolKeys(saleId).pool];
    for (const cell of router.cells) {
      const k = saleCellKeys(String(cell), saleId);
      pipe.hmget(k.sale, 'r', 's');
      pipe.hlen(k.reservations);
      pipe.zcard(k.expiry);
      pipe.hlen(k.users);
      names.push(k.sale, k.users, k.reservations, k.expiry);
    }
    pipe.exists(...names);
    const out = (await pipe.exec())!.map(([err, v]) => {
      if (err) throw err;
      return v;
    });
    const s: SaleState = { taken: 0, reservations: 0, expiries: 0, keys: 0, userFields: 0 };
    for (let i = 0; i < router.cells.length; i++) {
      const [r, sold] = out[i * 4] as [string | null, string | null];
      s.taken += Number(r ?? 0) + Number(sold ?? 0);
      s.reservations += out[i * 4 + 1] as number;
      s.expiries += out[i * 4 + 2] as number;
      s.userFields += out[i * 4 + 3] as number;
    }
    s.keys = out[out.length - 1] as number;
    return s;
  }

  async snapshot(): Promise<StateSnapshot> {
    const pool = this.t.h.identity.db.pool;
    const tables: Record<string, string> = {};
    const list = await this.#tableList();
    const parts = list.map(
      ({ name, columns }) =>
        `(SELECT md5(coalesce(string_agg(r, '|' ORDER BY r), '')) || ':' || count(*) FROM
           (SELECT row(${columns.map((c) => `"${c}"`).join(', ')})::text AS r FROM "${name}") x) AS "${name}"`,
    );
    const [row] = (
      await pool.query(`SELECT ${parts.join(', ')}, (SELECT count(*) FROM users)::int AS __users`)
    ).rows as Record<string, string | number>[];
    for (const { name } of list) tables[name] = String(row![name]);
    return {
      tables,
      users: Number(row!.__users),
      mapVersion: this.t.h.edge.routing.router.version,
      sale: await this.sale(),
    };
  }
}

/** What differs between two snapshots, as readable lines (empty when equal). */
export function diffSnapshots(
  a: StateSnapshot,
  b: StateSnapshot,
  allow: { userFields?: boolean; usersAdded?: number; taken?: number } = {},
): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a.tables), ...Object.keys(b.tables)])) {
    if (k === 'users' && (allow.usersAdded ?? 0) > 0) continue;
    if (a.tables[k] !== b.tables[k]) out.push(`table ${k} changed`);
  }
  if (b.users - a.users !== (allow.usersAdded ?? 0))
    out.push(`users rows ${a.users} -> ${b.users} (expected +${allow.usersAdded ?? 0})`);
  if (a.mapVersion !== b.mapVersion) out.push(`cell map version ${a.mapVersion} -> ${b.mapVersion}`);
  const dt = b.sale.taken - a.sale.taken;
  if (dt !== (allow.taken ?? 0)) out.push(`sale sold+reserved ${a.sale.taken} -> ${b.sale.taken}`);
  if (!allow.taken) {
    if (a.sale.reservations !== b.sale.reservations)
      out.push(`sale reservations ${a.sale.reservations} -> ${b.sale.reservations}`);
    if (a.sale.expiries !== b.sale.expiries)
      out.push(`sale expiry index ${a.sale.expiries} -> ${b.sale.expiries}`);
    if (a.sale.keys !== b.sale.keys) out.push(`sale cell keys ${a.sale.keys} -> ${b.sale.keys}`);
    if (!allow.userFields && a.sale.userFields !== b.sale.userFields)
      out.push(`sale users hash ${a.sale.userFields} -> ${b.sale.userFields}`);
  }
  return out;
}
