/**
 * Set-up and read-side operations that are not on the hot path, so they are plain MULTI transactions rather
 * than scripts: creating a sale's pool, opening a sale in a cell, defining a voucher, and reading a sale's
 * ledger across cells to check `sold + reserved + cell quotas + pool (+ in-flight transfers) == initial`.
 */
import { badArgument, LuaErrors } from './errors.ts';
import { saleCellKeys, salePoolKeys, voucherKeys } from './keys.ts';
import { checkCell, checkIdent, checkInt, type RedisClient } from './loader.ts';

const MAX_TIME = 1e14;

/** Creates the sale's unallocated pool holding `initial` units. Repeating it with the same figure is a no-op. */
export async function createSale(
  redis: RedisClient,
  input: { saleId: string; initial: number },
): Promise<'CREATED' | 'EXISTS'> {
  const k = salePoolKeys(checkIdent('saleId', input.saleId));
  const initial = checkInt('initial', input.initial, 0, 1e12);
  const res = await redis
    .multi()
    .hsetnx(k.pool, 'init', initial)
    .hsetnx(k.pool, 'pool', initial)
    .hget(k.pool, 'init')
    .exec();
  const created = res?.[0]?.[1] === 1;
  if (!created && Number(res?.[2]?.[1]) !== initial) {
    throw LuaErrors.LUA_CONFLICT(`sale ${input.saleId} exists with another initial stock`, {
      field: 'initial',
    });
  }
  return created ? 'CREATED' : 'EXISTS';
}

export interface SaleCellConfig {
  readonly cell: string;
  readonly saleId: string;
  readonly startsAt: number;
  readonly endsAt: number;
  readonly perUserLimit: number;
  readonly reservationTtlMs: number;
}

/**
 * Opens (or re-configures) a sale in a cell: window, per-user limit, reservation ttl. Counters start at 0 and
 * are never reset by a re-configuration; stock arrives only by quota transfer from the pool.
 */
export async function configureSaleCell(redis: RedisClient, c: SaleCellConfig): Promise<void> {
  const k = saleCellKeys(checkCell('cell', c.cell), checkIdent('saleId', c.saleId));
  const st = checkInt('startsAt', c.startsAt, 0, MAX_TIME);
  const en = checkInt('endsAt', c.endsAt, 0, MAX_TIME);
  if (en <= st) throw badArgument('endsAt', 'must be after startsAt');
  await redis
    .multi()
    .hset(k.sale, {
      st,
      en,
      lim: checkInt('perUserLimit', c.perUserLimit, 1, 1e6),
      ttl: checkInt('reservationTtlMs', c.reservationTtlMs, 1, 86_400_000),
    })
    .hsetnx(k.sale, 'q', 0)
    .hsetnx(k.sale, 'r', 0)
    .hsetnx(k.sale, 's', 0)
    .exec();
}

export interface VoucherConfig {
  readonly voucherId: string;
  /** Global number of uses. */
  readonly limit: number;
  readonly perUserLimit: number;
  readonly startsAt: number;
  readonly endsAt: number;
}

/** Defines or re-configures a voucher; its usage count survives a re-configuration. */
export async function defineVoucher(redis: RedisClient, v: VoucherConfig): Promise<void> {
  const k = voucherKeys(checkIdent('voucherId', v.voucherId));
  const st = checkInt('startsAt', v.startsAt, 0, MAX_TIME);
  const en = checkInt('endsAt', v.endsAt, 0, MAX_TIME);
  if (en <= st) throw badArgument('endsAt', 'must be after startsAt');
  await redis
    .multi()
    .hset(k.voucher, {
      lim: checkInt('limit', v.limit, 0, 1e12),
      pu: checkInt('perUserLimit', v.perUserLimit, 1, 1e6),
      st,
      en,
    })
    .hsetnx(k.voucher, 'used', 0)
    .exec();
}

export interface CellLedger {
  readonly quota: number;
  readonly reserved: number;
  readonly sold: number;
}
export interface SaleLedger {
  readonly initial: number;
  readonly pool: number;
  readonly cells: Readonly<Record<string, CellLedger>>;
  readonly sold: number;
  readonly reserved: number;
  readonly quotas: number;
  /** Units debited from a source by a pending transfer and not credited at its destination yet. */
  readonly inFlight: number;
  /** sold + reserved + quotas + pool + inFlight === initial */
  readonly balanced: boolean;
}

/**
 * Reads a sale's numbers across the given cells. The reads span several hash tags, so they are not one atomic
 * snapshot: use it when the sale is quiet (tests, audits), or repeat until two reads agree.
 */
export async function readSaleLedger(
  redis: RedisClient,
  saleId: string,
  cells: readonly string[],
): Promise<SaleLedger> {
  const pk = salePoolKeys(checkIdent('saleId', saleId));
  const [init, pool] = await redis.hmget(pk.pool, 'init', 'pool');
  const out: Record<string, CellLedger> = {};
  let sold = 0;
  let reserved = 0;
  let quotas = 0;
  let inFlight = 0;
  // A pending entry's units are in flight until the destination's inbound log shows the credit.
  const pendingInFlight = async (outKey: string, pendKey: string, inboundOf: (dest: string) => string) => {
    const ids = await redis.zrange(pendKey, 0, -1);
    for (const id of ids) {
      const entry = await redis.hget(outKey, id);
      const m = entry === null ? null : /^p\|(\d+)\|([^|]+)\|/.exec(entry);
      if (m === null) continue;
      const credited = await redis.hget(inboundOf(m[2]!), id);
      if (credited === null || credited === 'x') inFlight += Number(m[1]);
    }
  };
  const inboundOf = (dest: string) =>
    dest === 'pool' ? pk.transferIn : saleCellKeys(dest.slice(2), saleId).transferIn;
  await pendingInFlight(pk.transferOut, pk.transferPending, inboundOf);
  for (const cell of cells) {
    const k = saleCellKeys(checkCell('cell', cell), saleId);
    const [q, r, s] = await redis.hmget(k.sale, 'q', 'r', 's');
    const c = { quota: Number(q ?? 0), reserved: Number(r ?? 0), sold: Number(s ?? 0) };
    out[cell] = c;
    sold += c.sold;
    reserved += c.reserved;
    quotas += c.quota;
    await pendingInFlight(k.transferOut, k.transferPending, inboundOf);
  }
  const initial = Number(init ?? 0);
  const p = Number(pool ?? 0);
  return {
    initial,
    pool: p,
    cells: out,
    sold,
    reserved,
    quotas,
    inFlight,
    balanced: sold + reserved + quotas + p + inFlight === initial,
  };
}
