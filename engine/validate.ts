/**
 * Checks a request on the caller's thread, before it joins a batch: one bad request must be refused alone,
 * not fail the batch it would have joined (the script refuses a whole batch on any bad field).
 * The rules are the scripts' TypeScript modules' (lua/); the scripts check them again before their first write.
 */
import { checkPurchase as checkPurchaseRules } from '../lua/flash-sale-purchase.ts';
import { MAX_CART_ITEMS } from '../lua/loader.ts';
import { isTitanError } from '../services/kit/errors.ts';
import { type FraudTuple, fraudTuple } from './codec.ts';
import { EngineErrors } from './errors.ts';
import { type FraudRequest, type VelocitySnapshot, validateFraudInput } from './fraud/index.ts';
import type { CartReserveRequest, FlashSaleRequest } from './outcomes.ts';

const IDENT = /^[A-Za-z0-9_.-]{1,64}$/;
const PRINTABLE = /^[\x21-\x7e]{1,128}$/;

function bad(field: string, why: string): never {
  throw EngineErrors.ENGINE_BAD_REQUEST(`${field}: ${why}`, { field });
}
function ident(field: string, v: unknown): string {
  if (typeof v !== 'string' || !IDENT.test(v)) bad(field, 'must be 1-64 chars of [A-Za-z0-9_.-]');
  return v;
}
function int(field: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) {
    bad(field, `must be an integer ${lo}..${hi}`);
  }
  return v;
}

/** Validates a purchase by the script's rules (ENGINE_BAD_REQUEST naming the field); returns its `at`. */
export function checkPurchase(req: FlashSaleRequest): number {
  if (typeof req !== 'object' || req === null) bad('request', 'must be an object');
  try {
    return checkPurchaseRules(req.saleId, req, Date.now()).at;
  } catch (err) {
    if (!isTitanError(err)) throw err;
    throw EngineErrors.ENGINE_BAD_REQUEST(err.message, err.details as Record<string, unknown>);
  }
}

export function checkHoldId(holdId: unknown): string {
  return ident('holdId', holdId);
}

/** Validates a cart reservation; returns its items as flat sku, quantity pairs (the task format). */
export function checkCartReserve(req: CartReserveRequest): (string | number)[] {
  if (typeof req !== 'object' || req === null) bad('request', 'must be an object');
  checkHoldId(req.holdId);
  int('ttlMs', req.ttlMs, 1, 86_400_000);
  const items = req.items;
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_CART_ITEMS) {
    bad('items', `must hold 1..${MAX_CART_ITEMS} items`);
  }
  const flat: (string | number)[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const sku = ident(`items[${i}].sku`, it?.sku);
    if (seen.has(sku)) bad(`items[${i}].sku`, 'appears twice');
    seen.add(sku);
    flat.push(sku, int(`items[${i}].quantity`, it.quantity, 1, 1e6));
  }
  return flat;
}

const ZERO_VELOCITY: VelocitySnapshot = {
  userAttempts1m: 0,
  userAttempts1h: 0,
  deviceDistinctCards24h: 0,
  deviceDistinctUsers24h: 0,
  ipDistinctUsers1h: 0,
  cardSmallAttempts10m: 0,
  userFailedPayments24h: 0,
};

function printable(field: string, v: unknown, max: number): void {
  if (typeof v !== 'string' || v.length > max || !PRINTABLE.test(v)) {
    bad(field, `must be 1-${max} printable ASCII chars`);
  }
}

/**
 * Validates a scoring request: the identities name Redis keys (the velocity script's rules), everything else is
 * engine/fraud's `validateFraudInput`. Returns the request as the task's tuple.
 */
export function checkFraud(req: FraudRequest): FraudTuple {
  if (typeof req !== 'object' || req === null) bad('request', 'must be an object');
  printable('userId', req.userId, 128);
  printable('deviceId', req.deviceId, 128);
  printable('ip', req.ip, 64);
  printable('cardFingerprint', req.cardFingerprint, 128);
  const err = validateFraudInput(req, ZERO_VELOCITY);
  if (err !== null) {
    const field = String(err.details?.['field'] ?? 'request').replace(/^request\./, '');
    bad(field, err.message.slice(err.message.indexOf(': ') + 2));
  }
  return fraudTuple(req);
}
