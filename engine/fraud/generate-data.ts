/**
 * Seeded synthetic checkout attempts for training and testing the fraud model. Everything derives from one
 * 32-bit seed through xoshiro128** (seeded by splitmix32), so a seed and a size give the same data set on any
 * machine. Base rate: `fraudRate` (default 2.5%) of attempts are fraud, split across the patterns of
 * `FRAUD_PATTERN_SHARES`. Both classes carry noise so the problem is not separable: legitimate flash-sale
 * shoppers retry fast, families share devices, carriers put hundreds of users behind one IP, travellers and
 * gift buyers cross borders, flash-sale sign-ups are new accounts; and a share of fraud ("stealth", account
 * takeover with ordinary habits) looks normal, while each pattern's strength varies from blatant to faint.
 */
import { CURRENCIES, type FraudRequest, type VelocitySnapshot } from './features.ts';

export const FRAUD_PATTERNS = [
  'velocity_burst',
  'new_account_large_basket',
  'many_cards_per_device',
  'country_mismatch',
  'card_testing',
  'stealth',
] as const;
export type FraudPattern = (typeof FRAUD_PATTERNS)[number];
export type Pattern = 'legit' | FraudPattern;

/** Share of each pattern among fraudulent attempts (sums to 1). */
export const FRAUD_PATTERN_SHARES: Readonly<Record<FraudPattern, number>> = {
  velocity_burst: 0.2,
  new_account_large_basket: 0.22,
  many_cards_per_device: 0.16,
  country_mismatch: 0.15,
  card_testing: 0.15,
  stealth: 0.12,
};

export const DEFAULT_FRAUD_RATE = 0.025;

export interface Example {
  readonly request: FraudRequest;
  readonly velocity: VelocitySnapshot;
  readonly label: 0 | 1;
  readonly pattern: Pattern;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  uniform(lo: number, hi: number): number;
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  normal(): number;
  /** exp(N(ln median, sigma)). */
  logNormal(median: number, sigma: number): number;
  /** Failures before the first success with success probability p (mean (1-p)/p). */
  geometric(p: number): number;
}

/** xoshiro128** seeded through splitmix32: small, fast, and identical on every platform. */
export function createRng(seed: number): Rng {
  let sm = seed >>> 0;
  const splitmix = (): number => {
    sm = (sm + 0x9e3779b9) >>> 0;
    let z = sm;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const next = (): number => nextU32() / 4294967296;
  const normal = (): number => {
    // Box-Muller, one output per call: simpler to keep deterministic than a cached pair.
    const u = 1 - next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    normal,
    logNormal: (median, sigma) => median * Math.exp(sigma * normal()),
    geometric: (p) => Math.floor(Math.log(1 - next()) / Math.log(1 - p)),
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Home countries of shoppers with their currency and weight; FOREIGN adds countries seen only abroad. */
const HOMES: readonly { country: string; currency: string; weight: number }[] = [
  { country: 'US', currency: 'USD', weight: 0.34 },
  { country: 'GB', currency: 'GBP', weight: 0.08 },
  { country: 'DE', currency: 'EUR', weight: 0.1 },
  { country: 'FR', currency: 'EUR', weight: 0.07 },
  { country: 'ES', currency: 'EUR', weight: 0.05 },
  { country: 'JP', currency: 'JPY', weight: 0.08 },
  { country: 'BR', currency: 'BRL', weight: 0.07 },
  { country: 'IN', currency: 'INR', weight: 0.07 },
  { country: 'CA', currency: 'CAD', weight: 0.05 },
  { country: 'AU', currency: 'AUD', weight: 0.04 },
  { country: 'MX', currency: 'MXN', weight: 0.03 },
  { country: 'KR', currency: 'KRW', weight: 0.02 },
];
const FOREIGN = ['NL', 'IT', 'PL', 'RO', 'NG', 'VN', 'ID', 'UA', 'TR', 'PH', 'CN', 'SG'];
const ALL_COUNTRIES = [...HOMES.map((h) => h.country), ...FOREIGN];

function pickHome(rng: Rng): { country: string; currency: string } {
  let u = rng.next();
  for (const h of HOMES) {
    u -= h.weight;
    if (u < 0) return h;
  }
  return HOMES[0]!;
}

function otherCountry(rng: Rng, not: string): string {
  for (;;) {
    const c = ALL_COUNTRIES[rng.int(0, ALL_COUNTRIES.length - 1)]!;
    if (c !== not) return c;
  }
}

function toMinor(usd: number, currency: string): number {
  const c = CURRENCIES[currency]!;
  return Math.max(1, Math.round((usd / c.usdPerMajor) * 10 ** c.minorDigits));
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/** Mutable draft of one attempt, in US dollars; `finish` converts it. */
interface Draft {
  home: { country: string; currency: string };
  ageDays: number;
  usd: number;
  items: number;
  attempts1m: number;
  attempts1h: number;
  deviceCards: number;
  deviceUsers: number;
  ipUsers: number;
  smallAttempts: number;
  failed: number;
  ipCountry: string;
  binCountry: string;
  shipCountry: string | null;
}

/** A legitimate attempt, with the odd-looking-but-honest behaviours at realistic rates. */
function legitDraft(rng: Rng): Draft {
  const home = pickHome(rng);
  // 9% flash-sale sign-ups (days old), the rest established accounts (median ~10 months).
  const ageDays = rng.chance(0.09)
    ? rng.uniform(0, 1) * rng.uniform(0, 7)
    : clamp(rng.logNormal(300, 1.2), 1, 4000);
  let usd: number;
  let items: number;
  const kind = rng.next();
  if (kind < 0.06) {
    usd = rng.uniform(0.5, 4.99); // digital goods, top-ups
    items = 1;
  } else if (kind < 0.1) {
    usd = clamp(rng.logNormal(650, 0.5), 150, 6000); // the flash sale's big-ticket item
    items = 1 + rng.geometric(0.6);
  } else {
    usd = clamp(rng.logNormal(45, 0.85), 5, 2500);
    items = 1 + rng.geometric(0.55);
  }
  // Flash-sale shoppers retry and buy several drops in quick succession.
  const eager = rng.chance(0.07);
  const attempts1m = 1 + (eager ? rng.int(1, 3) : rng.chance(0.05) ? 1 : 0);
  const attempts1h = attempts1m + (eager ? rng.int(0, 10) : rng.geometric(0.6));
  const familyDevice = rng.chance(0.08);
  const deviceCards =
    1 + (familyDevice ? rng.int(1, 2) : rng.chance(0.04) ? 1 : 0) + (rng.chance(0.01) ? 2 : 0);
  const deviceUsers = 1 + (familyDevice ? rng.int(0, 2) : 0) + (rng.chance(0.01) ? rng.int(2, 6) : 0);
  const ipKind = rng.next();
  const ipUsers =
    ipKind < 0.68
      ? rng.int(1, 2)
      : ipKind < 0.88
        ? rng.int(2, 10)
        : Math.round(clamp(rng.logNormal(40, 1), 5, 600)); // carrier-grade NAT, offices, campuses
  const small = usd < 5;
  const smallAttempts = small ? 1 + (rng.chance(0.12) ? rng.int(1, 2) : 0) : 0;
  const failKind = rng.next();
  const failed = failKind < 0.91 ? 0 : failKind < 0.97 ? 1 : rng.int(2, 4);
  const ipCountry = rng.chance(0.04) ? otherCountry(rng, home.country) : home.country; // travellers, VPNs
  const binCountry = rng.chance(0.02) ? otherCountry(rng, home.country) : home.country; // expats' cards
  const shipCountry = rng.chance(0.08)
    ? null
    : rng.chance(0.05)
      ? otherCountry(rng, home.country)
      : home.country;
  return {
    home,
    ageDays,
    usd,
    items,
    attempts1m,
    attempts1h,
    deviceCards,
    deviceUsers,
    ipUsers,
    smallAttempts,
    failed,
    ipCountry,
    binCountry,
    shipCountry,
  };
}

/** Applies one fraud pattern on top of a legitimate-looking draft; strength varies from blatant to faint. */
function applyPattern(rng: Rng, d: Draft, pattern: FraudPattern): void {
  // Signals that come with fraud regardless of the pattern, at modest rates.
  if (rng.chance(0.25)) d.ipCountry = otherCountry(rng, d.home.country);
  if (rng.chance(0.2)) d.ageDays = rng.uniform(0, 3);
  if (rng.chance(0.15)) d.failed += rng.int(1, 3);
  const faint = rng.chance(0.2);
  switch (pattern) {
    case 'velocity_burst': {
      d.attempts1m = faint ? rng.int(2, 3) : 3 + Math.min(30, rng.geometric(0.15));
      d.attempts1h = d.attempts1m + (faint ? rng.int(0, 6) : rng.int(2, 40));
      break;
    }
    case 'new_account_large_basket': {
      d.ageDays = faint ? rng.uniform(1, 6) : Math.min(3, -Math.log(1 - rng.next()) * 0.6);
      d.usd = clamp(rng.logNormal(faint ? 260 : 750, 0.6), 120, 8000);
      d.items = 1 + rng.int(1, faint ? 3 : 12);
      if (d.usd < 5) d.smallAttempts = 0;
      break;
    }
    case 'many_cards_per_device': {
      d.deviceCards = faint ? rng.int(2, 3) : 4 + Math.min(40, rng.geometric(0.15));
      d.deviceUsers = faint ? rng.int(1, 2) : 1 + rng.int(0, 8);
      // Card farms run many accounts from one residential proxy exit.
      if (rng.chance(0.5)) d.ipUsers += rng.int(3, 40);
      if (rng.chance(0.4)) d.failed += rng.int(1, 5);
      break;
    }
    case 'country_mismatch': {
      // Stolen foreign card, shipped to a drop address, bought through a proxy: usually two or three of these.
      const n = faint ? 1 : rng.chance(0.5) ? 2 : 3;
      const which = [0, 1, 2];
      for (let i = 0; i < n; i++) {
        const k = which.splice(rng.int(0, which.length - 1), 1)[0]!;
        if (k === 0) d.ipCountry = otherCountry(rng, d.home.country);
        else if (k === 1) d.binCountry = otherCountry(rng, d.home.country);
        else d.shipCountry = otherCountry(rng, d.home.country);
      }
      d.usd = clamp(rng.logNormal(120, 0.8), 5, 5000);
      break;
    }
    case 'card_testing': {
      d.usd = rng.uniform(0.5, 4.99);
      d.items = 1;
      d.smallAttempts = faint ? rng.int(2, 3) : 3 + Math.min(60, rng.geometric(0.1));
      d.failed += faint ? rng.int(0, 2) : rng.int(2, 20);
      if (rng.chance(0.3)) d.deviceCards += rng.int(1, 6);
      d.attempts1h = Math.max(d.attempts1h, d.attempts1m + rng.int(0, d.smallAttempts));
      break;
    }
    case 'stealth': {
      // Account takeover: the victim's habits, a somewhat larger basket, otherwise nothing.
      d.usd = clamp(rng.logNormal(90, 0.9), 5, 3000);
      break;
    }
  }
  if (d.usd >= 5) d.smallAttempts = 0;
  else d.smallAttempts = Math.max(1, d.smallAttempts);
}

function finish(rng: Rng, d: Draft, id: number, label: 0 | 1, pattern: Pattern): Example {
  const request: FraudRequest = {
    userId: `u${id}`,
    accountAgeDays: d.ageDays,
    amountMinor: toMinor(d.usd, d.home.currency),
    currency: d.home.currency,
    itemCount: d.items,
    cardFingerprint: `card${id}`,
    deviceId: `dev${rng.int(0, 1e9)}`,
    ip: `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
    ipCountry: d.ipCountry,
    billingCountry: d.home.country,
    shippingCountry: d.shipCountry,
    cardBinCountry: d.binCountry,
  };
  const velocity: VelocitySnapshot = {
    userAttempts1m: d.attempts1m,
    userAttempts1h: Math.max(d.attempts1h, d.attempts1m),
    deviceDistinctCards24h: d.deviceCards,
    deviceDistinctUsers24h: d.deviceUsers,
    ipDistinctUsers1h: Math.max(1, d.ipUsers),
    cardSmallAttempts10m: d.smallAttempts,
    userFailedPayments24h: d.failed,
  };
  return { request, velocity, label, pattern };
}

/** One attempt of the given pattern ('legit' or a fraud pattern). */
export function generateExample(rng: Rng, pattern: Pattern, id = 0): Example {
  const d = legitDraft(rng);
  if (pattern === 'legit') return finish(rng, d, id, 0, 'legit');
  applyPattern(rng, d, pattern);
  return finish(rng, d, id, 1, pattern);
}

export interface GenerateOptions {
  readonly seed: number;
  readonly size: number;
  readonly fraudRate?: number;
}

/** `size` attempts; each is fraud with probability `fraudRate`, its pattern drawn by `FRAUD_PATTERN_SHARES`. */
export function generateDataset(options: GenerateOptions): Example[] {
  const rng = createRng(options.seed);
  const fraudRate = options.fraudRate ?? DEFAULT_FRAUD_RATE;
  const out: Example[] = new Array(options.size);
  for (let i = 0; i < options.size; i++) {
    let pattern: Pattern = 'legit';
    if (rng.chance(fraudRate)) {
      let u = rng.next();
      pattern = 'stealth';
      for (const p of FRAUD_PATTERNS) {
        u -= FRAUD_PATTERN_SHARES[p];
        if (u < 0) {
          pattern = p;
          break;
        }
      }
    }
    out[i] = generateExample(rng, pattern, i);
  }
  return out;
}
