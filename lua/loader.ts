/**
 * Loads the Redis Lua scripts of this folder and exposes each one as a typed function.
 *
 * Scripts run by EVALSHA; a NOSCRIPT reply (Redis restarted, failed over, or a cluster node that never saw the
 * script) is answered by one EVAL of the same source, which also re-caches it. See README.md for why this was
 * chosen over FUNCTION LOAD. Every input is validated here before Redis is called (a typed LUA_BAD_ARGUMENT
 * naming the field); the scripts validate again before their first write, so an error never half-writes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { badArgument, checkBatchSize, fromReplyError } from './errors.ts';
import { flashSalePurchase, type PurchaseBatch, type PurchaseResult } from './flash-sale-purchase.ts';
import {
  type FraudIdentity,
  fraudFailuresKey,
  fraudKeys,
  fraudSeqKey,
  idempotencyKey,
  inventoryKeys,
  rateLimitKey,
  saleCellKeys,
  salePoolKeys,
  voucherKeys,
} from './keys.ts';

export const MAX_CART_ITEMS = 100;
export const MAX_SWEEP_LIMIT = 1000;
/**
 * Largest batch of scoring attempts one fraud-velocity call may carry: each costs ~18-22 sorted-set commands,
 * ~40 us of Redis time (SLOWLOG, 2-core machine, quiet; 65-80 us under load), so a full call stays within
 * about the purchase batch's 1 ms budget. The script enforces the same literal. See README.md.
 */
export const MAX_FRAUD_BATCH = 16;
/** Entries one fraud velocity set keeps at most (the script's CAP): counters saturate here. */
export const FRAUD_SET_CAP = 1000;
/** The script's windows (ms), by counter; a test checks them against engine/fraud's VELOCITY_COUNTERS. */
export const FRAUD_WINDOWS_MS = {
  userAttempts1m: 60_000,
  userAttempts1h: 3_600_000,
  deviceDistinctCards24h: 86_400_000,
  deviceDistinctUsers24h: 86_400_000,
  ipDistinctUsers1h: 3_600_000,
  cardSmallAttempts10m: 600_000,
  userFailedPayments24h: 86_400_000,
} as const;
/** The counters of one attempt's snapshot, in the order of the script's reply. */
export const FRAUD_COUNTERS = Object.keys(FRAUD_WINDOWS_MS) as readonly (keyof typeof FRAUD_WINDOWS_MS)[];

export const SCRIPT_NAMES = [
  'flash-sale-purchase',
  'reservation-settle',
  'reservation-sweep',
  'cart-reserve',
  'cart-settle',
  'cart-sweep',
  'stock-adjust',
  'quota-debit',
  'quota-credit',
  'quota-abort',
  'quota-settle',
  'voucher-claim',
  'voucher-unclaim',
  'rate-limit',
  'idempotency-begin',
  'idempotency-end',
  'fraud-velocity',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

interface LoadedScript {
  readonly source: string;
  readonly sha: string;
}

const SCRIPTS = Object.fromEntries(
  SCRIPT_NAMES.map((name) => {
    const source = readFileSync(new URL(`./${name}.lua`, import.meta.url), 'utf8');
    return [name, { source, sha: createHash('sha1').update(source).digest('hex') }];
  }),
) as Record<ScriptName, LoadedScript>;

export type RedisClient = Redis | Cluster;
type Arg = string | number;

export {
  MAX_PURCHASE_BATCH,
  PURCHASE_BATCH_BUDGET_US,
  type PurchaseBatch,
  type PurchaseRequest,
  type PurchaseResult,
  type RecordedPurchase,
} from './flash-sale-purchase.ts';

// ---------------------------------------------------------------------------------------------------------------
// Result types
// ---------------------------------------------------------------------------------------------------------------

export type CommitStatus = 'COMMITTED' | 'ALREADY_COMMITTED' | 'RELEASED' | 'EXPIRED' | 'NOT_FOUND';
export type ReleaseStatus = 'RELEASED' | 'ALREADY_RELEASED' | 'COMMITTED' | 'EXPIRED' | 'NOT_FOUND';
export interface ReservationRef {
  readonly cell: string;
  readonly saleId: string;
  readonly reservationId: string;
  readonly now: number;
}
export interface SweepResult {
  readonly expired: number;
  /** More expired entries are waiting: call again. */
  readonly more: boolean;
}

export interface CartItem {
  readonly sku: string;
  readonly quantity: number;
}
export type HoldState = 'RESERVED' | 'COMMITTED' | 'RELEASED' | 'EXPIRED';
export interface CartHold {
  readonly state: HoldState;
  readonly expiresAt: number;
  readonly items: readonly CartItem[];
}
export type CartReserveResult =
  | { readonly status: 'RESERVED'; readonly expiresAt: number }
  | { readonly status: 'OUT_OF_STOCK'; readonly skus: readonly string[] }
  | { readonly status: 'DUPLICATE'; readonly hold: CartHold };

export type StockAdjustResult =
  | { readonly status: 'ADJUSTED' | 'DUPLICATE'; readonly before: number; readonly after: number }
  | { readonly status: 'INSUFFICIENT'; readonly available: number };

/** One side of a quota transfer: the sale's unallocated pool, or one cell's quota of the sale. */
export type QuotaSide = 'pool' | { readonly cell: string };
export type DebitResult =
  | { readonly status: 'DEBITED' }
  | { readonly status: 'EXISTS'; readonly state: 'PENDING' | 'DONE' | 'UNDONE' }
  | { readonly status: 'INSUFFICIENT'; readonly available: number };
export type CreditStatus = 'CREDITED' | 'ALREADY_CREDITED' | 'ABORTED' | 'NOT_CONFIGURED';

export type VoucherClaimStatus =
  | 'CLAIMED'
  | 'ALREADY_CLAIMED'
  | 'ORDER_RELEASED'
  | 'ORDER_CONFLICT'
  | 'NOT_STARTED'
  | 'ENDED'
  | 'EXHAUSTED'
  | 'LIMIT_REACHED';
export type VoucherUnclaimStatus = 'RELEASED' | 'ALREADY_RELEASED' | 'NOT_FOUND';

export interface RateLimitResult {
  readonly allowed: boolean;
  readonly remaining: number;
  readonly retryAfterMs: number;
}

export type IdempotencyBeginResult =
  | { readonly status: 'STARTED' }
  | { readonly status: 'IN_FLIGHT'; readonly retryAfterMs: number }
  | { readonly status: 'MISMATCH' }
  | { readonly status: 'REPLAY'; readonly httpStatus: number; readonly body: string };
export type IdempotencyEndStatus = 'STORED' | 'ABORTED' | 'ALREADY_COMPLETED' | 'LEASE_LOST';
export interface IdempotencyRef {
  readonly cell: string;
  /** Who owns the key space, e.g. `orders.create:u123` (keys are unique per client and endpoint). */
  readonly scope: string;
  readonly key: string;
}

/** One scoring attempt as the velocity script records it. */
export interface FraudAttempt extends FraudIdentity {
  /** Below 5 USD (engine/fraud `isSmallAmount`): counted on the card's small-attempts window. */
  readonly small: boolean;
}
/** One attempt's counters (structurally engine/fraud's `VelocitySnapshot`). */
export type FraudVelocity = { readonly [K in (typeof FRAUD_COUNTERS)[number]]: number };

// ---------------------------------------------------------------------------------------------------------------
// Validation (same rules as the scripts)
// ---------------------------------------------------------------------------------------------------------------

const IDENT = /^[A-Za-z0-9_.-]{1,64}$/;
const CELL = /^[A-Za-z0-9_-]{1,32}$/;
const PRINTABLE = /^[\x21-\x7e]+$/;
const SCOPE = /^[A-Za-z0-9_.:-]{1,128}$/;
const MAX_TIME = 1e14;

export function checkIdent(field: string, v: unknown): string {
  if (typeof v !== 'string' || !IDENT.test(v))
    throw badArgument(field, 'must be 1-64 chars of [A-Za-z0-9_.-]');
  return v;
}
export function checkCell(field: string, v: unknown): string {
  if (typeof v !== 'string' || !CELL.test(v)) throw badArgument(field, 'must be 1-32 chars of [A-Za-z0-9_-]');
  return v;
}
export function checkInt(field: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) {
    throw badArgument(field, `must be an integer ${lo}..${hi}`);
  }
  return v;
}
const checkTime = (field: string, v: unknown): number => checkInt(field, v, 0, MAX_TIME);
function checkPrintable(field: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || !PRINTABLE.test(v)) {
    throw badArgument(field, `must be 1-${max} printable ASCII chars`);
  }
  return v;
}
function checkOneOf<T extends string>(field: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw badArgument(field, `must be one of ${allowed.join(', ')}`);
  }
  return v as T;
}
function checkSide(field: string, v: unknown): QuotaSide {
  if (v === 'pool') return v;
  if (typeof v === 'object' && v !== null && 'cell' in v) return { cell: checkCell(`${field}.cell`, v.cell) };
  throw badArgument(field, "must be 'pool' or { cell }");
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------------------

const HOLD_STATES: Record<string, HoldState> = { R: 'RESERVED', C: 'COMMITTED', X: 'RELEASED', E: 'EXPIRED' };

export function decodeHold(rec: string): CartHold {
  const parts = rec.split('|');
  const items: CartItem[] = [];
  for (let i = 2; i < parts.length; i += 2) items.push({ sku: parts[i]!, quantity: Number(parts[i + 1]) });
  return { state: HOLD_STATES[parts[0]!] ?? 'RESERVED', expiresAt: Number(parts[1]), items };
}

const sideField = (side: QuotaSide): 'pool' | 'q' => (side === 'pool' ? 'pool' : 'q');
const sideDest = (side: QuotaSide): string => (side === 'pool' ? 'pool' : `c:${side.cell}`);
function sideKeys(saleId: string, side: QuotaSide) {
  if (side === 'pool') {
    const k = salePoolKeys(saleId);
    return { counter: k.pool, out: k.transferOut, pending: k.transferPending, inbound: k.transferIn };
  }
  const k = saleCellKeys(side.cell, saleId);
  return { counter: k.sale, out: k.transferOut, pending: k.transferPending, inbound: k.transferIn };
}
const LOG_STATES = { p: 'PENDING', d: 'DONE', u: 'UNDONE' } as const;

// ---------------------------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------------------------

export interface TitanScripts {
  readonly redis: RedisClient;
  /** SHA1 of every script, as EVALSHA uses it. */
  readonly shas: Readonly<Record<ScriptName, string>>;
  /** Runs a script with raw KEYS/ARGV and no TypeScript validation (for operators and tests). */
  evalRaw(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown>;

  flashSalePurchase(batch: PurchaseBatch): Promise<PurchaseResult[]>;
  reservationCommit(ref: ReservationRef): Promise<CommitStatus>;
  reservationRelease(ref: ReservationRef): Promise<ReleaseStatus>;
  reservationSweep(input: { cell: string; saleId: string; now: number; limit: number }): Promise<SweepResult>;

  cartReserve(input: {
    cell: string;
    holdId: string;
    now: number;
    ttlMs: number;
    items: readonly CartItem[];
  }): Promise<CartReserveResult>;
  cartCommit(input: { cell: string; holdId: string; now: number }): Promise<CommitStatus>;
  cartRelease(input: { cell: string; holdId: string; now: number }): Promise<ReleaseStatus>;
  cartSweep(input: { cell: string; now: number; limit: number }): Promise<SweepResult>;
  stockAdjust(input: {
    cell: string;
    adjustId: string;
    sku: string;
    mode: 'delta' | 'set';
    value: number;
    reason: string;
    now: number;
  }): Promise<StockAdjustResult>;

  /** Step 1 of a quota transfer (under the source's tag). Most callers want `transferQuota` (quota-transfer.ts). */
  quotaDebit(input: {
    saleId: string;
    transferId: string;
    amount: number;
    from: QuotaSide;
    to: QuotaSide;
    now: number;
  }): Promise<DebitResult>;
  /** Step 2 (under the destination's tag). */
  quotaCredit(input: {
    saleId: string;
    transferId: string;
    amount: number;
    to: QuotaSide;
  }): Promise<CreditStatus>;
  /** Recovery: forbid a later credit at the destination, unless it already happened. */
  quotaAbort(input: { saleId: string; transferId: string; to: QuotaSide }): Promise<'ABORTED' | 'CREDITED'>;
  /** Step 3 (under the source's tag): close the log entry, refunding the source on 'undo'. */
  quotaSettle(input: {
    saleId: string;
    transferId: string;
    from: QuotaSide;
    outcome: 'done' | 'undo';
  }): Promise<'DONE' | 'UNDONE'>;

  voucherClaim(input: {
    voucherId: string;
    orderId: string;
    userId: string;
    now: number;
  }): Promise<VoucherClaimStatus>;
  voucherUnclaim(input: { voucherId: string; orderId: string }): Promise<VoucherUnclaimStatus>;

  rateLimit(input: {
    cell: string;
    name: string;
    capacity: number;
    refillTokens: number;
    refillMs: number;
    cost?: number;
    now: number;
  }): Promise<RateLimitResult>;

  idempotencyBegin(
    input: IdempotencyRef & { fingerprint: string; token: string; leaseMs: number; now: number },
  ): Promise<IdempotencyBeginResult>;
  idempotencyComplete(
    input: IdempotencyRef & { token: string; status: number; body: string; ttlMs: number },
  ): Promise<IdempotencyEndStatus>;
  idempotencyAbort(input: IdempotencyRef & { token: string }): Promise<IdempotencyEndStatus>;

  /** Records a batch of scoring attempts of one cell, in order; each gets its snapshot, itself included. */
  fraudVelocity(input: {
    cell: string;
    now: number;
    attempts: readonly FraudAttempt[];
  }): Promise<FraudVelocity[]>;
  /** Records a failed / declined payment (idempotent by failureId); returns the user's failures in 24 h. */
  fraudRecordFailure(input: {
    cell: string;
    userId: string;
    failureId: string;
    now: number;
  }): Promise<number>;
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

/**
 * The servers behind a client: the server itself, or every master a Cluster client knows (waiting until it
 * knows its slot map). Script caches and SCAN are per server, so they are handled per master.
 */
export async function masterNodes(redis: RedisClient): Promise<Redis[]> {
  if (!redis.isCluster) return [redis as Redis];
  const cluster = redis as Cluster;
  if (cluster.status !== 'ready') await cluster.ping(); // queued until the client has the slot map
  return cluster.nodes('master');
}

/**
 * Builds the typed API over `redis` (a Redis or Cluster client), and loads every script into the server's cache
 * (SCRIPT LOAD; on a Cluster into every master's) so a broken script fails at start, not on the first purchase.
 */
export async function loadScripts(redis: RedisClient): Promise<TitanScripts> {
  for (const node of await masterNodes(redis)) {
    for (const name of SCRIPT_NAMES) {
      const sha = await node.script('LOAD', SCRIPTS[name].source);
      if (sha !== SCRIPTS[name].sha)
        throw fromReplyError(new Error(`SCRIPT LOAD sha mismatch for ${name}`), name);
    }
  }
  return createScripts(redis);
}

/**
 * Same as loadScripts without the start-up SCRIPT LOAD (EVALSHA falls back to EVAL on NOSCRIPT anyway). On a
 * Cluster both commands go to the master of the keys' slot, so a master that lacks a script (a replica promoted
 * by a failover, a new node after resharding, a SCRIPT FLUSH) gets it from that EVAL, once.
 */
export function createScripts(redis: RedisClient): TitanScripts {
  const run = async (name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> => {
    const s = SCRIPTS[name];
    try {
      return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw isReplyError(err) ? fromReplyError(err, name) : err;
    }
    try {
      return await redis.eval(s.source, keys.length, ...keys, ...args);
    } catch (err) {
      throw isReplyError(err) ? fromReplyError(err, name) : err;
    }
  };

  const saleKeysArray = (cell: string, saleId: string): string[] => {
    const k = saleCellKeys(cell, saleId);
    return [k.sale, k.users, k.reservations, k.expiry, k.outbox];
  };

  return {
    redis,
    shas: Object.fromEntries(SCRIPT_NAMES.map((n) => [n, SCRIPTS[n].sha])) as Record<ScriptName, string>,
    evalRaw: run,

    async flashSalePurchase(batch) {
      checkCell('cell', batch.cell);
      return flashSalePurchase(run, batch);
    },

    async reservationCommit(ref) {
      const keys = saleKeysArray(checkCell('cell', ref.cell), checkIdent('saleId', ref.saleId));
      return (await run('reservation-settle', keys, [
        'commit',
        ref.saleId,
        checkReservationId(ref.reservationId),
        checkTime('now', ref.now),
      ])) as CommitStatus;
    },
    async reservationRelease(ref) {
      const keys = saleKeysArray(checkCell('cell', ref.cell), checkIdent('saleId', ref.saleId));
      return (await run('reservation-settle', keys, [
        'release',
        ref.saleId,
        checkReservationId(ref.reservationId),
        checkTime('now', ref.now),
      ])) as ReleaseStatus;
    },
    async reservationSweep(input) {
      const keys = saleKeysArray(checkCell('cell', input.cell), checkIdent('saleId', input.saleId));
      const [expired, more] = (await run('reservation-sweep', keys, [
        input.saleId,
        checkTime('now', input.now),
        checkInt('limit', input.limit, 1, MAX_SWEEP_LIMIT),
      ])) as [number, number];
      return { expired, more: more === 1 };
    },

    async cartReserve(input) {
      const k = inventoryKeys(checkCell('cell', input.cell));
      const args: Arg[] = [
        checkIdent('holdId', input.holdId),
        checkTime('now', input.now),
        checkInt('ttlMs', input.ttlMs, 1, 86_400_000),
      ];
      const items = input.items;
      if (!Array.isArray(items) || items.length === 0 || items.length > MAX_CART_ITEMS) {
        throw badArgument('items', `must hold 1..${MAX_CART_ITEMS} items`);
      }
      args.push(items.length);
      const seen = new Set<string>();
      items.forEach((it, i) => {
        const sku = checkIdent(`items[${i}].sku`, it.sku);
        if (seen.has(sku)) throw badArgument(`items[${i}].sku`, 'appears twice');
        seen.add(sku);
        args.push(sku, checkInt(`items[${i}].quantity`, it.quantity, 1, 1e6));
      });
      const reply = (await run('cart-reserve', [k.inventory, k.holds, k.expiry, k.outbox], args)) as [
        string,
        ...(string | number)[],
      ];
      if (reply[0] === 'RESERVED') return { status: 'RESERVED', expiresAt: Number(reply[1]) };
      if (reply[0] === 'DUPLICATE') return { status: 'DUPLICATE', hold: decodeHold(String(reply[1])) };
      return { status: 'OUT_OF_STOCK', skus: reply.slice(1).map(String) };
    },
    async cartCommit(input) {
      const k = inventoryKeys(checkCell('cell', input.cell));
      return (await run(
        'cart-settle',
        [k.inventory, k.holds, k.expiry, k.outbox],
        ['commit', checkIdent('holdId', input.holdId), checkTime('now', input.now)],
      )) as CommitStatus;
    },
    async cartRelease(input) {
      const k = inventoryKeys(checkCell('cell', input.cell));
      return (await run(
        'cart-settle',
        [k.inventory, k.holds, k.expiry, k.outbox],
        ['release', checkIdent('holdId', input.holdId), checkTime('now', input.now)],
      )) as ReleaseStatus;
    },
    async cartSweep(input) {
      const k = inventoryKeys(checkCell('cell', input.cell));
      const [expired, more] = (await run(
        'cart-sweep',
        [k.inventory, k.holds, k.expiry, k.outbox],
        [checkTime('now', input.now), checkInt('limit', input.limit, 1, MAX_SWEEP_LIMIT)],
      )) as [number, number];
      return { expired, more: more === 1 };
    },
    async stockAdjust(input) {
      const k = inventoryKeys(checkCell('cell', input.cell));
      const mode = checkOneOf('mode', input.mode, ['delta', 'set'] as const);
      const value =
        mode === 'set' ? checkInt('value', input.value, 0, 1e9) : checkInt('value', input.value, -1e9, 1e9);
      if (mode === 'delta' && value === 0) throw badArgument('value', 'a delta must not be 0');
      if (typeof input.reason !== 'string' || !/^[\x20-\x7e]{1,200}$/.test(input.reason)) {
        throw badArgument('reason', 'must be 1-200 printable ASCII chars');
      }
      const reply = (await run(
        'stock-adjust',
        [k.inventory, k.adjustments, k.outbox],
        [
          checkIdent('adjustId', input.adjustId),
          checkIdent('sku', input.sku),
          mode,
          value,
          input.reason,
          checkTime('now', input.now),
        ],
      )) as [string, number, number?];
      if (reply[0] === 'INSUFFICIENT') return { status: 'INSUFFICIENT', available: reply[1] };
      return { status: reply[0] as 'ADJUSTED' | 'DUPLICATE', before: reply[1], after: reply[2]! };
    },

    async quotaDebit(input) {
      const saleId = checkIdent('saleId', input.saleId);
      const from = checkSide('from', input.from);
      const to = checkSide('to', input.to);
      if ((from === 'pool') === (to === 'pool'))
        throw badArgument('to', 'one side must be the pool, the other a cell');
      const k = sideKeys(saleId, from);
      const reply = (await run(
        'quota-debit',
        [k.counter, k.out, k.pending],
        [
          sideField(from),
          checkIdent('transferId', input.transferId),
          checkInt('amount', input.amount, 1, 1e9),
          sideDest(to),
          checkTime('now', input.now),
        ],
      )) as [string, string | number];
      if (reply[0] === 'DEBITED') return { status: 'DEBITED' };
      if (reply[0] === 'INSUFFICIENT') return { status: 'INSUFFICIENT', available: Number(reply[1]) };
      return { status: 'EXISTS', state: LOG_STATES[reply[1] as keyof typeof LOG_STATES] };
    },
    async quotaCredit(input) {
      const to = checkSide('to', input.to);
      const k = sideKeys(checkIdent('saleId', input.saleId), to);
      return (await run(
        'quota-credit',
        [k.counter, k.inbound],
        [sideField(to), checkIdent('transferId', input.transferId), checkInt('amount', input.amount, 1, 1e9)],
      )) as CreditStatus;
    },
    async quotaAbort(input) {
      const k = sideKeys(checkIdent('saleId', input.saleId), checkSide('to', input.to));
      return (await run('quota-abort', [k.inbound], [checkIdent('transferId', input.transferId)])) as
        | 'ABORTED'
        | 'CREDITED';
    },
    async quotaSettle(input) {
      const from = checkSide('from', input.from);
      const k = sideKeys(checkIdent('saleId', input.saleId), from);
      return (await run(
        'quota-settle',
        [k.counter, k.out, k.pending],
        [
          sideField(from),
          checkIdent('transferId', input.transferId),
          checkOneOf('outcome', input.outcome, ['done', 'undo'] as const),
        ],
      )) as 'DONE' | 'UNDONE';
    },

    async voucherClaim(input) {
      const k = voucherKeys(checkIdent('voucherId', input.voucherId));
      return (await run(
        'voucher-claim',
        [k.voucher, k.users, k.orders],
        [
          checkIdent('orderId', input.orderId),
          checkIdent('userId', input.userId),
          checkTime('now', input.now),
        ],
      )) as VoucherClaimStatus;
    },
    async voucherUnclaim(input) {
      const k = voucherKeys(checkIdent('voucherId', input.voucherId));
      return (await run(
        'voucher-unclaim',
        [k.voucher, k.users, k.orders],
        [checkIdent('orderId', input.orderId)],
      )) as VoucherUnclaimStatus;
    },

    async rateLimit(input) {
      const cell = checkCell('cell', input.cell);
      if (typeof input.name !== 'string' || !SCOPE.test(input.name)) {
        throw badArgument('name', 'must be 1-128 chars of [A-Za-z0-9_.:-]');
      }
      const capacity = checkInt('capacity', input.capacity, 1, 1e6);
      const [allowed, remaining, retryAfterMs] = (await run(
        'rate-limit',
        [rateLimitKey(cell, input.name)],
        [
          checkTime('now', input.now),
          capacity,
          checkInt('refillTokens', input.refillTokens, 1, 1e6),
          checkInt('refillMs', input.refillMs, 1, 1e7),
          input.cost === undefined ? 1 : checkInt('cost', input.cost, 1, capacity),
        ],
      )) as [number, number, number];
      return { allowed: allowed === 1, remaining, retryAfterMs };
    },

    async idempotencyBegin(input) {
      const reply = (await run(
        'idempotency-begin',
        [idemKey(input)],
        [
          checkTime('now', input.now),
          checkPrintable('fingerprint', input.fingerprint, 128),
          checkIdent('token', input.token),
          checkInt('leaseMs', input.leaseMs, 1, 600_000),
        ],
      )) as [string, (number | string)?, string?];
      switch (reply[0]) {
        case 'STARTED':
          return { status: 'STARTED' };
        case 'MISMATCH':
          return { status: 'MISMATCH' };
        case 'IN_FLIGHT':
          return { status: 'IN_FLIGHT', retryAfterMs: Number(reply[1]) };
        default:
          return { status: 'REPLAY', httpStatus: Number(reply[1]), body: reply[2] ?? '' };
      }
    },
    async fraudVelocity(input) {
      const cell = checkCell('cell', input.cell);
      const now = checkTime('now', input.now);
      const attempts = input.attempts;
      checkBatchSize(attempts, MAX_FRAUD_BATCH, 'fraud-velocity');
      const { keys, args } = fraudVelocityCall(cell, now, attempts);
      return decodeFraudVelocity((await run('fraud-velocity', keys, args)) as number[]);
    },
    async fraudRecordFailure(input) {
      const cell = checkCell('cell', input.cell);
      return (await run(
        'fraud-velocity',
        [fraudFailuresKey(cell, checkPrintable('userId', input.userId, 128))],
        ['fail', checkTime('now', input.now), checkPrintable('failureId', input.failureId, 128)],
      )) as number;
    },

    async idempotencyComplete(input) {
      if (typeof input.body !== 'string' || Buffer.byteLength(input.body) > 1_048_576) {
        throw badArgument('body', 'must be a string of at most 1 MiB');
      }
      return (await run(
        'idempotency-end',
        [idemKey(input)],
        [
          'complete',
          checkIdent('token', input.token),
          checkInt('status', input.status, 100, 599),
          input.body,
          checkInt('ttlMs', input.ttlMs, 1, 2_592_000_000),
        ],
      )) as IdempotencyEndStatus;
    },
    async idempotencyAbort(input) {
      return (await run('idempotency-end', [idemKey(input)], ['abort', checkIdent('token', input.token)])) as
        | 'ABORTED'
        | 'LEASE_LOST'
        | 'ALREADY_COMPLETED';
    },
  };
}

/**
 * KEYS and ARGV of one fraud-velocity 'score' call (validated; the engine's worker uses it too). Device and IP
 * only name keys; the user and card are also set members.
 */
export function fraudVelocityCall(
  cell: string,
  now: number,
  attempts: readonly FraudAttempt[],
): { keys: string[]; args: (string | number)[] } {
  const keys: string[] = [fraudSeqKey(cell)];
  const args: Arg[] = ['score', now, attempts.length];
  for (let i = 0; i < attempts.length; i++) {
    const a = attempts[i]!;
    const id: FraudIdentity = {
      userId: checkPrintable(`requests[${i}].userId`, a?.userId, 128),
      deviceId: checkPrintable(`requests[${i}].deviceId`, a.deviceId, 128),
      ip: checkPrintable(`requests[${i}].ip`, a.ip, 64),
      cardFingerprint: checkPrintable(`requests[${i}].cardFingerprint`, a.cardFingerprint, 128),
    };
    if (typeof a.small !== 'boolean') throw badArgument(`requests[${i}].small`, 'must be a boolean');
    const k = fraudKeys(cell, id);
    keys.push(k.attempts, k.deviceCards, k.deviceUsers, k.ipUsers, k.cardSmall, k.failures);
    args.push(id.userId, id.cardFingerprint, a.small ? 1 : 0);
  }
  return { keys, args };
}

/** Splits the script's flat reply (7 integers per attempt) into snapshots. */
export function decodeFraudVelocity(reply: readonly number[]): FraudVelocity[] {
  const out: FraudVelocity[] = new Array(reply.length / 7);
  for (let i = 0, j = 0; j < reply.length; i++, j += 7) {
    out[i] = {
      userAttempts1m: reply[j]!,
      userAttempts1h: reply[j + 1]!,
      deviceDistinctCards24h: reply[j + 2]!,
      deviceDistinctUsers24h: reply[j + 3]!,
      ipDistinctUsers1h: reply[j + 4]!,
      cardSmallAttempts10m: reply[j + 5]!,
      userFailedPayments24h: reply[j + 6]!,
    };
  }
  return out;
}

function checkReservationId(v: unknown): string {
  if (typeof v !== 'string' || !/^[0-9]{1,15}$/.test(v))
    throw badArgument('reservationId', 'must be a decimal id');
  return v;
}

function idemKey(ref: IdempotencyRef): string {
  const cell = checkCell('cell', ref.cell);
  if (typeof ref.scope !== 'string' || !SCOPE.test(ref.scope)) {
    throw badArgument('scope', 'must be 1-128 chars of [A-Za-z0-9_.:-]');
  }
  return idempotencyKey(cell, ref.scope, checkPrintable('key', ref.key, 255));
}
