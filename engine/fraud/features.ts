/**
 * The fraud model's inputs and its feature vector. A score reads two things: the `FraudRequest` (what the
 * checkout knows about this attempt) and a `VelocitySnapshot` (per-user/device/IP/card counters that a Redis
 * Lua script updates and reads atomically, see `VELOCITY_COUNTERS` and README.md). `extractFeatures` turns
 * them into a fixed-length numeric vector; training and serving both go through it, so they cannot drift.
 */
import type { TitanError } from '../../services/kit/errors.ts';
import { FraudErrors } from './errors.ts';

/** What the checkout knows about one purchase attempt. Money is integer minor units of `currency`. */
export interface FraudRequest {
  readonly userId: string;
  /** Days since the account was created (fractional allowed), see `accountAgeDays()`. */
  readonly accountAgeDays: number;
  /** Basket total to be charged, integer minor units of `currency`. */
  readonly amountMinor: number;
  /** ISO 4217 code; must be one of `CURRENCIES`. */
  readonly currency: string;
  /** Number of items in the basket (>= 1). */
  readonly itemCount: number;
  /** Stable fingerprint of the payment card (PSP token), never the PAN. */
  readonly cardFingerprint: string;
  readonly deviceId: string;
  readonly ip: string;
  /** ISO 3166-1 alpha-2 codes; `shippingCountry` is null for digital goods. */
  readonly ipCountry: string;
  readonly billingCountry: string;
  readonly shippingCountry: string | null;
  /** Issuing country of the card's BIN. */
  readonly cardBinCountry: string;
}

/**
 * Counters read from the cell's Redis by the velocity Lua script in the same call that records this attempt.
 * Counts marked "including this attempt" are therefore >= 1 (>= 0 for `cardSmallAttempts10m` when this
 * attempt is not small). Windows are sliding. Names, windows and keys: `VELOCITY_COUNTERS`.
 */
export interface VelocitySnapshot {
  readonly userAttempts1m: number;
  readonly userAttempts1h: number;
  readonly deviceDistinctCards24h: number;
  readonly deviceDistinctUsers24h: number;
  readonly ipDistinctUsers1h: number;
  readonly cardSmallAttempts10m: number;
  readonly userFailedPayments24h: number;
}

export interface VelocityCounterSpec {
  readonly name: keyof VelocitySnapshot;
  readonly windowSeconds: number;
  /** Suggested key under the cell's hash tag; `<cell>`, `<userId>`, ... are substituted. */
  readonly key: string;
  readonly kind: 'count' | 'distinct';
  readonly includesThisAttempt: boolean;
  readonly description: string;
}

/** The contract with the velocity Lua script: exactly these counters, with these windows. */
export const VELOCITY_COUNTERS: readonly VelocityCounterSpec[] = [
  {
    name: 'userAttempts1m',
    windowSeconds: 60,
    key: '{c<cell>}:fraud:u:<userId>:att',
    kind: 'count',
    includesThisAttempt: true,
    description: 'checkout attempts scored for this user',
  },
  {
    name: 'userAttempts1h',
    windowSeconds: 3600,
    key: '{c<cell>}:fraud:u:<userId>:att',
    kind: 'count',
    includesThisAttempt: true,
    description: 'checkout attempts scored for this user (same key as the 1 min window)',
  },
  {
    name: 'deviceDistinctCards24h',
    windowSeconds: 86_400,
    key: '{c<cell>}:fraud:d:<deviceId>:cards',
    kind: 'distinct',
    includesThisAttempt: true,
    description: 'distinct card fingerprints used from this device',
  },
  {
    name: 'deviceDistinctUsers24h',
    windowSeconds: 86_400,
    key: '{c<cell>}:fraud:d:<deviceId>:users',
    kind: 'distinct',
    includesThisAttempt: true,
    description: 'distinct user ids seen on this device',
  },
  {
    name: 'ipDistinctUsers1h',
    windowSeconds: 3600,
    key: '{c<cell>}:fraud:ip:<ip>:users',
    kind: 'distinct',
    includesThisAttempt: true,
    description: 'distinct user ids seen from this IP',
  },
  {
    name: 'cardSmallAttempts10m',
    windowSeconds: 600,
    key: '{c<cell>}:fraud:c:<cardFingerprint>:small',
    kind: 'count',
    includesThisAttempt: true,
    description:
      'attempts on this card whose amount is small (isSmallAmount), counted only when this one is small',
  },
  {
    name: 'userFailedPayments24h',
    windowSeconds: 86_400,
    key: '{c<cell>}:fraud:u:<userId>:fail',
    kind: 'count',
    includesThisAttempt: false,
    description: 'declined or failed payment authorisations of this user (recorded from payment outcomes)',
  },
];

/**
 * Minor units -> US dollars, so amounts in any currency land on one scale. Static approximate rates: the
 * amount features are logarithmic, so a rate 10% off moves them by ~0.1, far below what matters.
 */
export const CURRENCIES: Readonly<
  Record<string, { readonly minorDigits: number; readonly usdPerMajor: number }>
> = {
  USD: { minorDigits: 2, usdPerMajor: 1 },
  EUR: { minorDigits: 2, usdPerMajor: 1.08 },
  GBP: { minorDigits: 2, usdPerMajor: 1.27 },
  CHF: { minorDigits: 2, usdPerMajor: 1.13 },
  CAD: { minorDigits: 2, usdPerMajor: 0.73 },
  AUD: { minorDigits: 2, usdPerMajor: 0.66 },
  SGD: { minorDigits: 2, usdPerMajor: 0.74 },
  SEK: { minorDigits: 2, usdPerMajor: 0.095 },
  PLN: { minorDigits: 2, usdPerMajor: 0.25 },
  BRL: { minorDigits: 2, usdPerMajor: 0.18 },
  MXN: { minorDigits: 2, usdPerMajor: 0.055 },
  INR: { minorDigits: 2, usdPerMajor: 0.012 },
  CNY: { minorDigits: 2, usdPerMajor: 0.14 },
  JPY: { minorDigits: 0, usdPerMajor: 0.0067 },
  KRW: { minorDigits: 0, usdPerMajor: 0.00073 },
};

const USD_PER_MINOR = new Map<string, number>(
  Object.entries(CURRENCIES).map(([code, c]) => [code, c.usdPerMajor / 10 ** c.minorDigits]),
);

/** Attempts below this many US dollars count as "small" (card testing probes); the Lua counter uses the same rule. */
export const SMALL_AMOUNT_USD = 5;
/** Baskets above this are "large" for the new-account interaction feature. */
export const LARGE_BASKET_USD = 150;
/** Account age (days) over which "newness" decays by e in the interaction feature. */
export const NEWNESS_DAYS = 3;

/** The amount in US dollars, NaN for an unknown currency. */
export function amountUsd(request: Pick<FraudRequest, 'amountMinor' | 'currency'>): number {
  const rate = USD_PER_MINOR.get(request.currency);
  return rate === undefined ? Number.NaN : request.amountMinor * rate;
}

/** Whether this attempt counts toward `cardSmallAttempts10m`. */
export function isSmallAmount(request: Pick<FraudRequest, 'amountMinor' | 'currency'>): boolean {
  return amountUsd(request) < SMALL_AMOUNT_USD;
}

/** Account age in days from the creation timestamp (ms since epoch) and the current time. */
export function accountAgeDays(createdAtMs: number, nowMs: number): number {
  return Math.max(0, (nowMs - createdAtMs) / 86_400_000);
}

/**
 * The stable reason codes a score explains itself with. Each feature belongs to exactly one code; a code's
 * contribution is the sum of its features' contributions.
 */
export const REASON_CODES = [
  'VELOCITY_BURST',
  'NEW_ACCOUNT_LARGE_BASKET',
  'NEW_ACCOUNT',
  'LARGE_AMOUNT',
  'MANY_CARDS_PER_DEVICE',
  'MANY_ACCOUNTS_PER_DEVICE',
  'MANY_USERS_PER_IP',
  'CARD_TESTING',
  'FAILED_PAYMENTS',
  'COUNTRY_MISMATCH',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** Feature names in vector order, each with the reason code it explains. model.json must list the same names. */
export const FEATURES: readonly { readonly name: string; readonly reason: ReasonCode }[] = [
  { name: 'amount_usd_log', reason: 'LARGE_AMOUNT' },
  { name: 'item_count_log', reason: 'LARGE_AMOUNT' },
  { name: 'account_age_days_log', reason: 'NEW_ACCOUNT' },
  { name: 'account_under_1d', reason: 'NEW_ACCOUNT' },
  { name: 'newness_x_large_basket', reason: 'NEW_ACCOUNT_LARGE_BASKET' },
  { name: 'user_attempts_1m_log', reason: 'VELOCITY_BURST' },
  { name: 'user_attempts_1h_log', reason: 'VELOCITY_BURST' },
  { name: 'device_distinct_cards_24h_log', reason: 'MANY_CARDS_PER_DEVICE' },
  { name: 'device_distinct_users_24h_log', reason: 'MANY_ACCOUNTS_PER_DEVICE' },
  { name: 'ip_distinct_users_1h_log', reason: 'MANY_USERS_PER_IP' },
  { name: 'card_small_attempts_10m_log', reason: 'CARD_TESTING' },
  { name: 'small_amount', reason: 'CARD_TESTING' },
  { name: 'user_failed_payments_24h_log', reason: 'FAILED_PAYMENTS' },
  { name: 'ip_country_ne_billing', reason: 'COUNTRY_MISMATCH' },
  { name: 'card_bin_country_ne_billing', reason: 'COUNTRY_MISMATCH' },
  { name: 'shipping_country_ne_billing', reason: 'COUNTRY_MISMATCH' },
  { name: 'country_mismatches_ge_2', reason: 'COUNTRY_MISMATCH' },
];
export const FEATURE_NAMES: readonly string[] = FEATURES.map((f) => f.name);
export const FEATURE_COUNT = FEATURES.length;
/** For each feature, the index of its reason in `REASON_CODES`. */
export const FEATURE_REASON_INDEX: Int32Array = Int32Array.from(FEATURES, (f) =>
  REASON_CODES.indexOf(f.reason),
);

const LOG_LARGE_BASKET = Math.log1p(LARGE_BASKET_USD);

/**
 * Writes the FEATURE_COUNT features of one attempt into `out` at `offset`. Allocation-free. Assumes a valid
 * input (see `validateFraudInput`); an unknown currency or a negative count yields NaN, which the scorer
 * turns into a typed error instead of a silent "allow".
 */
export function extractFeatures(
  request: FraudRequest,
  velocity: VelocitySnapshot,
  out: Float64Array,
  offset = 0,
): void {
  const usd = amountUsd(request);
  const amountLog = Math.log1p(usd);
  const age = request.accountAgeDays;
  const ipMismatch = request.ipCountry !== request.billingCountry ? 1 : 0;
  const binMismatch = request.cardBinCountry !== request.billingCountry ? 1 : 0;
  const ship = request.shippingCountry;
  const shipMismatch = ship !== null && ship !== request.billingCountry ? 1 : 0;
  out[offset] = amountLog;
  out[offset + 1] = Math.log1p(request.itemCount);
  out[offset + 2] = Math.log1p(age);
  out[offset + 3] = age < 1 ? 1 : 0;
  out[offset + 4] = Math.exp(-age / NEWNESS_DAYS) * Math.max(0, amountLog - LOG_LARGE_BASKET);
  out[offset + 5] = Math.log1p(velocity.userAttempts1m);
  out[offset + 6] = Math.log1p(velocity.userAttempts1h);
  out[offset + 7] = Math.log1p(velocity.deviceDistinctCards24h);
  out[offset + 8] = Math.log1p(velocity.deviceDistinctUsers24h);
  out[offset + 9] = Math.log1p(velocity.ipDistinctUsers1h);
  out[offset + 10] = Math.log1p(velocity.cardSmallAttempts10m);
  out[offset + 11] = usd < SMALL_AMOUNT_USD ? 1 : 0;
  out[offset + 12] = Math.log1p(velocity.userFailedPayments24h);
  out[offset + 13] = ipMismatch;
  out[offset + 14] = binMismatch;
  out[offset + 15] = shipMismatch;
  out[offset + 16] = ipMismatch + binMismatch + shipMismatch >= 2 ? 1 : 0;
}

const COUNTRY = /^[A-Z]{2}$/;
const VELOCITY_FIELDS = VELOCITY_COUNTERS.map((c) => c.name);

function invalid(field: string, why: string, index?: number): TitanError {
  const at = index === undefined ? field : `inputs[${index}].${field}`;
  return FraudErrors.FRAUD_INVALID_INPUT(`${at}: ${why}`, index === undefined ? { field } : { field, index });
}

const isNonEmptyString = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= 256;
const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Full check of one input, for the boundary (edge or dispatcher) and for error reporting. Returns the typed
 * FRAUD_INVALID_INPUT error naming the first offending field, or null. `index` labels an item of a batch.
 */
export function validateFraudInput(request: unknown, velocity: unknown, index?: number): TitanError | null {
  if (typeof request !== 'object' || request === null) return invalid('request', 'must be an object', index);
  const r = request as Record<string, unknown>;
  for (const f of ['userId', 'cardFingerprint', 'deviceId', 'ip'] as const) {
    if (!isNonEmptyString(r[f]))
      return invalid(`request.${f}`, 'must be a non-empty string (<= 256 chars)', index);
  }
  const age = r['accountAgeDays'];
  if (typeof age !== 'number' || !Number.isFinite(age) || age < 0) {
    return invalid('request.accountAgeDays', 'must be a finite number >= 0', index);
  }
  if (!isCount(r['amountMinor'])) {
    return invalid('request.amountMinor', 'must be a non-negative safe integer (minor units)', index);
  }
  if (typeof r['currency'] !== 'string' || !USD_PER_MINOR.has(r['currency'])) {
    return invalid('request.currency', `must be one of ${[...USD_PER_MINOR.keys()].join(', ')}`, index);
  }
  if (!isCount(r['itemCount']) || (r['itemCount'] as number) < 1) {
    return invalid('request.itemCount', 'must be an integer >= 1', index);
  }
  for (const f of ['ipCountry', 'billingCountry', 'cardBinCountry'] as const) {
    const v = r[f];
    if (typeof v !== 'string' || !COUNTRY.test(v))
      return invalid(`request.${f}`, 'must be ISO 3166-1 alpha-2', index);
  }
  const ship = r['shippingCountry'];
  if (ship !== null && (typeof ship !== 'string' || !COUNTRY.test(ship))) {
    return invalid('request.shippingCountry', 'must be ISO 3166-1 alpha-2 or null', index);
  }
  if (typeof velocity !== 'object' || velocity === null)
    return invalid('velocity', 'must be an object', index);
  const v = velocity as Record<string, unknown>;
  for (const f of VELOCITY_FIELDS) {
    if (!isCount(v[f])) return invalid(`velocity.${f}`, 'must be a non-negative safe integer', index);
  }
  return null;
}

/** Throws the FRAUD_INVALID_INPUT error of `validateFraudInput`, if any. */
export function assertFraudInput(
  request: unknown,
  velocity: unknown,
  index?: number,
): asserts request is FraudRequest {
  const err = validateFraudInput(request, velocity, index);
  if (err !== null) throw err;
}
