import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateFraudInput } from './features.ts';
import {
  createRng,
  FRAUD_PATTERN_SHARES,
  FRAUD_PATTERNS,
  generateDataset,
  generateExample,
} from './generate-data.ts';

describe('synthetic data generator', () => {
  it('gives the same data for the same seed and different data for another seed', () => {
    const a = generateDataset({ seed: 42, size: 500 });
    const b = generateDataset({ seed: 42, size: 500 });
    const c = generateDataset({ seed: 43, size: 500 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('draws uniform numbers in [0, 1) from the PRNG with a mean near 0.5', () => {
    const rng = createRng(7);
    let sum = 0;
    for (let i = 0; i < 20_000; i++) {
      const u = rng.next();
      assert.ok(u >= 0 && u < 1);
      sum += u;
    }
    assert.ok(Math.abs(sum / 20_000 - 0.5) < 0.01);
  });

  it('produces only inputs the scorer accepts', () => {
    for (const [i, e] of generateDataset({ seed: 5, size: 3_000, fraudRate: 0.3 }).entries()) {
      assert.equal(validateFraudInput(e.request, e.velocity, i), null);
    }
  });

  it('hits the fraud base rate and the pattern shares', () => {
    const data = generateDataset({ seed: 9, size: 40_000, fraudRate: 0.025 });
    const fraud = data.filter((e) => e.label === 1);
    assert.ok(Math.abs(fraud.length / data.length - 0.025) < 0.004, `${fraud.length}`);
    const big = generateDataset({ seed: 10, size: 20_000, fraudRate: 1 });
    for (const p of FRAUD_PATTERNS) {
      const share = big.filter((e) => e.pattern === p).length / big.length;
      assert.ok(Math.abs(share - FRAUD_PATTERN_SHARES[p]) < 0.015, `${p}: ${share}`);
    }
    assert.ok(data.every((e) => (e.label === 1) === (e.pattern !== 'legit')));
  });

  it('makes card testing small-amount bursts and new-account fraud young and large', () => {
    const rng = createRng(11);
    for (let i = 0; i < 200; i++) {
      const t = generateExample(rng, 'card_testing');
      assert.ok(t.velocity.cardSmallAttempts10m >= 2);
      const n = generateExample(rng, 'new_account_large_basket');
      assert.ok(n.request.accountAgeDays < 6);
    }
  });
});
