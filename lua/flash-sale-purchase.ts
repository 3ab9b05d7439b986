/**
 * The TypeScript side of `flash-sale-purchase.lua`, and the only place that knows its contract: the KEYS order,
 * the ARGV layout and its rules, the reply and how to decode it, and the record formats the script writes
 * (idempotency answers, reservation records). Every caller (the loader's typed API, the engine's worker and
 * codec, the edge's reservation route, the bench peer) goes through this module.
 */
import { badArgument, checkBatchSize, fromReplyError } from './errors.ts';
import { saleCellKeys } from './keys.ts';

/**
 * Largest purchase batch one script call may carry, chosen from Redis' own timing (SLOWLOG) of maximal batches
 * (every request reserving, the slowest path): see batch-budget.test.ts and README.md. The script enforces the
 * same literal.
 */
export const MAX_PURCHASE_BATCH = 48;
/** The time budget (in microseconds of Redis execution) a maximal purchase batch must stay within. */
export const PURCHASE_BATCH_BUDGET_US = 1000;

/**
 * ARGV: `saleId, now, n`, then n groups of `userId, quantity, idempotencyKey, at`. The engine's task array has
 * this very layout (engine/codec.ts), so a worker passes it on unchanged.
 */
export const PURCHASE_ARGV_HEADER = 3;
export const PURCHASE_ARGV_STRIDE = 4;

export type RecordedPurchase =
  | { readonly status: 'reserved'; readonly reservationId: string; readonly expiresAt: number }
  | { readonly status: 'sold_out' }
  | { readonly status: 'limit_reached' };
export type PurchaseResult =
  | RecordedPurchase
  | { readonly status: 'not_started' }
  | { readonly status: 'ended' }
  /** The idempotency key was seen before: `original` is the first answer given for it. */
  | { readonly status: 'duplicate'; readonly original: RecordedPurchase }
  /** The idempotency key was first used with another quantity: a different request, refused. */
  | { readonly status: 'key_reused' };

export interface PurchaseRequest {
  readonly userId: string;
  readonly quantity: number;
  readonly idempotencyKey: string;
  /** When the edge received the request (ms); the sale window is judged by it. Defaults to `now`. */
  readonly at?: number;
}
export interface PurchaseBatch {
  readonly cell: string;
  readonly saleId: string;
  /** Current time (ms); reservations expire at now + the sale's reservation ttl. */
  readonly now: number;
  readonly requests: readonly PurchaseRequest[];
}

/** The script's KEYS for one sale in one cell, in order. */
export function purchaseKeys(cell: string, saleId: string): string[] {
  const k = saleCellKeys(cell, saleId);
  return [k.sale, k.users, k.reservations, k.expiry, k.outbox, k.seq];
}

// --- The argument rules (the script checks the same before its first write) ------------------------------------

const IDENT = /^[A-Za-z0-9_.-]{1,64}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
const MAX_TIME = 1e14;
export const MAX_QUANTITY = 999_999;

export const isPurchaseIdent = (v: unknown): v is string => typeof v === 'string' && IDENT.test(v);
export const isIdempotencyKey = (v: unknown): v is string => typeof v === 'string' && IDEMPOTENCY_KEY.test(v);
const isInt = (v: unknown, lo: number, hi: number): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= lo && v <= hi;

/**
 * Checks one purchase by the script's rules; returns its `at` (`now` when absent). Refuses with LUA_BAD_ARGUMENT
 * naming `<prefix>field`. The script refuses a whole batch on any bad field, so callers check each request
 * before it joins a batch.
 */
export function checkPurchase(
  saleId: unknown,
  r: PurchaseRequest,
  now: number,
  prefix = '',
): { saleId: string; at: number } {
  if (!isPurchaseIdent(saleId)) throw badArgument('saleId', 'must be 1-64 chars of [A-Za-z0-9_.-]');
  if (typeof r !== 'object' || r === null) throw badArgument(`${prefix}request`, 'must be an object');
  if (!isPurchaseIdent(r.userId))
    throw badArgument(`${prefix}userId`, 'must be 1-64 chars of [A-Za-z0-9_.-]');
  if (!isInt(r.quantity, 1, MAX_QUANTITY))
    throw badArgument(`${prefix}quantity`, `must be an integer 1..${MAX_QUANTITY}`);
  if (!isIdempotencyKey(r.idempotencyKey))
    throw badArgument(`${prefix}idempotencyKey`, 'must be 1-128 printable ASCII chars');
  const at = r.at ?? now;
  if (!isInt(at, 0, MAX_TIME)) throw badArgument(`${prefix}at`, 'must be an integer ms timestamp');
  return { saleId, at };
}

// --- The reply --------------------------------------------------------------------------------------------------

const SOLD_OUT: RecordedPurchase = Object.freeze({ status: 'sold_out' });
const LIMIT_REACHED: RecordedPurchase = Object.freeze({ status: 'limit_reached' });
const NOT_STARTED: PurchaseResult = Object.freeze({ status: 'not_started' });
const ENDED: PurchaseResult = Object.freeze({ status: 'ended' });
const KEY_REUSED: PurchaseResult = Object.freeze({ status: 'key_reused' });
export const PURCHASE_ANSWERS = { SOLD_OUT, LIMIT_REACHED, NOT_STARTED, ENDED, KEY_REUSED } as const;

/** A recorded first answer, as the users hash keeps it: `R:<rid>:<expiresAt>` or `L`. */
function decodeRecorded(s: string): RecordedPurchase {
  if (s.charCodeAt(0) === 82 && s.charCodeAt(1) === 58) {
    const i = s.indexOf(':', 2);
    return { status: 'reserved', reservationId: s.slice(2, i), expiresAt: Number(s.slice(i + 1)) };
  }
  if (s === 'L') return LIMIT_REACHED;
  throw fromReplyError(new Error(`unexpected recorded purchase answer ${s}`), 'flash-sale-purchase');
}

/**
 * Decodes entry `i` of a reply (`[expiresAt, ...entries]`, see the .lua header): `R<rid>` reserved at the
 * batch's expiresAt, `S`, `L`, `N`, `E`, `M`, or `D<recorded answer>`.
 */
export function decodePurchaseEntry(reply: readonly unknown[], i: number): PurchaseResult {
  const s = reply[1 + i] as string;
  switch (s.charCodeAt(0)) {
    case 82: // R
      return { status: 'reserved', reservationId: s.slice(1), expiresAt: Number(reply[0]) };
    case 83:
      return SOLD_OUT;
    case 76:
      return LIMIT_REACHED;
    case 78:
      return NOT_STARTED;
    case 69:
      return ENDED;
    case 77:
      return KEY_REUSED;
    case 68:
      return { status: 'duplicate', original: decodeRecorded(s.slice(1)) };
    default:
      throw fromReplyError(new Error(`unexpected purchase result ${s}`), 'flash-sale-purchase');
  }
}

export function decodePurchaseReply(reply: readonly unknown[]): PurchaseResult[] {
  const out: PurchaseResult[] = new Array(reply.length - 1);
  for (let i = 0; i < out.length; i++) out[i] = decodePurchaseEntry(reply, i);
  return out;
}

// --- Records the script writes ----------------------------------------------------------------------------------

export type ReservationState = 'reserved' | 'committed' | 'released' | 'expired';
const RESERVATION_STATES: Readonly<Record<string, ReservationState>> = {
  R: 'reserved',
  C: 'committed',
  X: 'released',
  E: 'expired',
};
export interface ReservationRecord {
  readonly state: ReservationState;
  readonly userId: string;
  readonly qty: number;
  readonly expiresAt: number;
}

/** A reservation record `<state>|<user>|<qty>|<expiresAt>` (KEYS[3]), or undefined when it is not one. */
export function parseReservationRecord(record: string | null | undefined): ReservationRecord | undefined {
  if (!record) return undefined;
  const f = record.split('|');
  const state = RESERVATION_STATES[f[0]!];
  if (f.length !== 4 || state === undefined || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return undefined;
  return { state, userId: f[1]!, qty: Number(f[2]), expiresAt: Number(f[3]) };
}

// --- Calls ------------------------------------------------------------------------------------------------------

type Arg = string | number;
/** Runs the script by name with KEYS and ARGV (the loader's EVALSHA with its NOSCRIPT fallback). */
export type ScriptRunner = (
  name: 'flash-sale-purchase',
  keys: readonly string[],
  args: readonly Arg[],
) => Promise<unknown>;

/** The ARGV of a batch, every request checked first (LUA_BAD_ARGUMENT names `requests[i].field`). */
export function purchaseArgs(batch: PurchaseBatch): Arg[] {
  const reqs = batch.requests;
  checkBatchSize(reqs, MAX_PURCHASE_BATCH, 'flash-sale-purchase');
  if (!isInt(batch.now, 0, MAX_TIME)) throw badArgument('now', 'must be an integer ms timestamp');
  const args: Arg[] = [batch.saleId, batch.now, reqs.length];
  for (let i = 0; i < reqs.length; i++) {
    const r = reqs[i]!;
    const { at } = checkPurchase(batch.saleId, r, batch.now, `requests[${i}].`);
    args.push(r.userId, r.quantity, r.idempotencyKey, at);
  }
  return args;
}

/** One checked batch, decoded. */
export async function flashSalePurchase(run: ScriptRunner, batch: PurchaseBatch): Promise<PurchaseResult[]> {
  const args = purchaseArgs(batch);
  return decodePurchaseReply(
    (await run('flash-sale-purchase', purchaseKeys(batch.cell, batch.saleId), args)) as string[],
  );
}

/**
 * One batch whose ARGV was already built and checked request by request (the engine's task, see
 * PURCHASE_ARGV_HEADER): the raw reply, for the caller's thread to decode with decodePurchaseEntry.
 */
export function flashSalePurchaseChecked(
  run: ScriptRunner,
  cell: string,
  args: readonly Arg[],
): Promise<string[]> {
  return run('flash-sale-purchase', purchaseKeys(cell, String(args[0])), args) as Promise<string[]>;
}
