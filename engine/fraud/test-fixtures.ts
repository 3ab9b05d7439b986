/**
 * Canonical attempts for the tests and the benchmark: one ordinary purchase and one textbook example of each
 * fraud pattern, each differing from the ordinary purchase only in that pattern's signals.
 */
import type { FraudRequest, ReasonCode, VelocitySnapshot } from './features.ts';
import type { FraudPattern } from './generate-data.ts';

export const NORMAL_REQUEST: FraudRequest = {
  userId: 'u-1001',
  accountAgeDays: 420,
  amountMinor: 4_599,
  currency: 'USD',
  itemCount: 1,
  cardFingerprint: 'card-abc',
  deviceId: 'dev-1',
  ip: '203.0.113.7',
  ipCountry: 'US',
  billingCountry: 'US',
  shippingCountry: 'US',
  cardBinCountry: 'US',
};

export const NORMAL_VELOCITY: VelocitySnapshot = {
  userAttempts1m: 1,
  userAttempts1h: 1,
  deviceDistinctCards24h: 1,
  deviceDistinctUsers24h: 1,
  ipDistinctUsers1h: 1,
  cardSmallAttempts10m: 0,
  userFailedPayments24h: 0,
};

export interface CanonicalCase {
  readonly pattern: Exclude<FraudPattern, 'stealth'>;
  readonly reason: ReasonCode;
  readonly request: FraudRequest;
  readonly velocity: VelocitySnapshot;
}

const variant = (
  pattern: CanonicalCase['pattern'],
  reason: ReasonCode,
  request: Partial<FraudRequest>,
  velocity: Partial<VelocitySnapshot>,
): CanonicalCase => ({
  pattern,
  reason,
  request: { ...NORMAL_REQUEST, ...request },
  velocity: { ...NORMAL_VELOCITY, ...velocity },
});

export const CANONICAL_FRAUD: readonly CanonicalCase[] = [
  variant('velocity_burst', 'VELOCITY_BURST', {}, { userAttempts1m: 12, userAttempts1h: 30 }),
  variant(
    'new_account_large_basket',
    'NEW_ACCOUNT_LARGE_BASKET',
    { accountAgeDays: 0.2, amountMinor: 120_000, itemCount: 6 },
    {},
  ),
  variant(
    'many_cards_per_device',
    'MANY_CARDS_PER_DEVICE',
    {},
    { deviceDistinctCards24h: 12, deviceDistinctUsers24h: 2 },
  ),
  variant(
    'country_mismatch',
    'COUNTRY_MISMATCH',
    { ipCountry: 'NG', cardBinCountry: 'RO', shippingCountry: 'VN' },
    {},
  ),
  variant(
    'card_testing',
    'CARD_TESTING',
    { amountMinor: 150 },
    { cardSmallAttempts10m: 15, userFailedPayments24h: 2 },
  ),
];
