import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTitanError } from '../../services/kit/errors.ts';
import {
  amountUsd,
  extractFeatures,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_REASON_INDEX,
  type FraudRequest,
  isSmallAmount,
  REASON_CODES,
  VELOCITY_COUNTERS,
  validateFraudInput,
} from './features.ts';
import { NORMAL_REQUEST, NORMAL_VELOCITY } from './test-fixtures.ts';

const features = (request: FraudRequest, velocity = NORMAL_VELOCITY): Float64Array => {
  const out = new Float64Array(FEATURE_COUNT);
  extractFeatures(request, velocity, out);
  return out;
};
const at = (x: Float64Array, name: string): number => x[FEATURE_NAMES.indexOf(name)]!;

describe('feature extraction', () => {
  it('names every feature once and maps each to a known reason code', () => {
    assert.equal(new Set(FEATURE_NAMES).size, FEATURE_COUNT);
    for (const r of FEATURE_REASON_INDEX) assert.ok(r >= 0 && r < REASON_CODES.length);
  });

  it('fills every slot with a finite number for a valid input, at the given offset', () => {
    const out = new Float64Array(FEATURE_COUNT * 2).fill(Number.NaN);
    extractFeatures(NORMAL_REQUEST, NORMAL_VELOCITY, out, FEATURE_COUNT);
    assert.ok(out.subarray(FEATURE_COUNT).every(Number.isFinite));
    assert.ok(out.subarray(0, FEATURE_COUNT).every(Number.isNaN));
  });

  it('puts the same dollar amount in different currencies on the same scale', () => {
    const usd = at(features({ ...NORMAL_REQUEST, amountMinor: 10_000, currency: 'USD' }), 'amount_usd_log');
    const jpy = at(features({ ...NORMAL_REQUEST, amountMinor: 14_925, currency: 'JPY' }), 'amount_usd_log');
    assert.ok(Math.abs(usd - jpy) < 0.01, `${usd} vs ${jpy}`);
    assert.equal(amountUsd({ amountMinor: 250, currency: 'EUR' }), 2.7);
  });

  it('treats amounts under 5 USD as small, and an unknown currency as NaN', () => {
    assert.equal(isSmallAmount({ amountMinor: 499, currency: 'USD' }), true);
    assert.equal(isSmallAmount({ amountMinor: 500, currency: 'USD' }), false);
    assert.ok(Number.isNaN(amountUsd({ amountMinor: 100, currency: 'XXX' })));
  });

  it('counts country mismatches against the billing country and ignores a null shipping country', () => {
    const x = features({ ...NORMAL_REQUEST, ipCountry: 'FR', cardBinCountry: 'DE', shippingCountry: null });
    assert.equal(at(x, 'ip_country_ne_billing'), 1);
    assert.equal(at(x, 'card_bin_country_ne_billing'), 1);
    assert.equal(at(x, 'shipping_country_ne_billing'), 0);
    assert.equal(at(x, 'country_mismatches_ge_2'), 1);
    assert.equal(at(features(NORMAL_REQUEST), 'country_mismatches_ge_2'), 0);
  });

  it('only gives the new-account interaction to young accounts with baskets above 150 USD', () => {
    const young = { ...NORMAL_REQUEST, accountAgeDays: 0.5 };
    assert.equal(at(features({ ...young, amountMinor: 9_000 }), 'newness_x_large_basket'), 0);
    const big = at(features({ ...young, amountMinor: 90_000 }), 'newness_x_large_basket');
    const bigOld = at(features({ ...NORMAL_REQUEST, amountMinor: 90_000 }), 'newness_x_large_basket');
    assert.ok(big > 1, `${big}`);
    assert.ok(bigOld < 1e-6, `${bigOld}`);
  });
});

describe('velocity counter contract', () => {
  it('lists exactly the VelocitySnapshot fields, each with a positive window and a cell-tagged key', () => {
    assert.deepEqual(VELOCITY_COUNTERS.map((c) => c.name).sort(), Object.keys(NORMAL_VELOCITY).sort());
    for (const c of VELOCITY_COUNTERS) {
      assert.ok(c.windowSeconds > 0);
      assert.match(c.key, /^\{c<cell>\}:fraud:/);
    }
  });
});

describe('input validation', () => {
  it('accepts the canonical input', () => {
    assert.equal(validateFraudInput(NORMAL_REQUEST, NORMAL_VELOCITY), null);
  });

  const cases: [string, unknown, unknown][] = [
    ['request.amountMinor', { ...NORMAL_REQUEST, amountMinor: 12.5 }, NORMAL_VELOCITY],
    ['request.currency', { ...NORMAL_REQUEST, currency: 'XXX' }, NORMAL_VELOCITY],
    ['request.itemCount', { ...NORMAL_REQUEST, itemCount: 0 }, NORMAL_VELOCITY],
    ['request.accountAgeDays', { ...NORMAL_REQUEST, accountAgeDays: -1 }, NORMAL_VELOCITY],
    ['request.ipCountry', { ...NORMAL_REQUEST, ipCountry: 'usa' }, NORMAL_VELOCITY],
    ['request.userId', { ...NORMAL_REQUEST, userId: '' }, NORMAL_VELOCITY],
    ['velocity.userAttempts1m', NORMAL_REQUEST, { ...NORMAL_VELOCITY, userAttempts1m: -2 }],
    ['velocity.ipDistinctUsers1h', NORMAL_REQUEST, { ...NORMAL_VELOCITY, ipDistinctUsers1h: undefined }],
    ['request', null, NORMAL_VELOCITY],
  ];
  for (const [field, request, velocity] of cases) {
    it(`rejects a bad ${field} with FRAUD_INVALID_INPUT naming the field`, () => {
      const err = validateFraudInput(request, velocity, 7);
      assert.ok(isTitanError(err));
      assert.equal(err.code, 'FRAUD_INVALID_INPUT');
      assert.equal(err.status, 400);
      assert.equal(err.details?.['field'], field);
      assert.equal(err.details?.['index'], 7);
      assert.ok(err.message.startsWith(`inputs[7].${field}:`), err.message);
    });
  }
});
