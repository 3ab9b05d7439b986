import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isTitanError } from '../../services/kit/errors.ts';
import { FEATURE_NAMES, type FraudRequest, type VelocitySnapshot } from './features.ts';
import { createRng, FRAUD_PATTERNS, generateDataset, generateExample } from './generate-data.ts';
import {
  DEFAULT_MODEL_URL,
  defaultFraudModel,
  type FraudInput,
  FraudModel,
  type FraudModelFile,
  loadFraudModel,
  score,
  scoreBatch,
} from './model.ts';
import { CANONICAL_FRAUD, NORMAL_REQUEST, NORMAL_VELOCITY } from './test-fixtures.ts';
import { rocAuc } from './train.ts';

const committed = JSON.parse(readFileSync(DEFAULT_MODEL_URL, 'utf8')) as FraudModelFile;
const model = defaultFraudModel();
const OPEN = { reviewThreshold: 1, denyThreshold: 1 };

function rejects(raw: unknown, pattern: RegExp): void {
  assert.throws(
    () => FraudModel.fromJSON(raw),
    (err: unknown) => isTitanError(err) && err.code === 'FRAUD_MODEL_INVALID' && pattern.test(err.message),
  );
}

describe('loading model.json', () => {
  it('loads the committed model with the feature set of this code', () => {
    assert.deepEqual(committed.featureNames, FEATURE_NAMES);
    assert.ok(model.defaultThresholds.reviewThreshold < model.defaultThresholds.denyThreshold);
    assert.equal(model.version, committed.version);
  });

  it('rejects a model for another feature set', () => {
    rejects({ ...committed, featureNames: [...FEATURE_NAMES].reverse() }, /featureNames do not match/);
    rejects({ ...committed, featureNames: FEATURE_NAMES.slice(1) }, /featureNames do not match/);
  });

  it('rejects missing, non-finite or wrongly sized weights and zero std', () => {
    rejects({ ...committed, weights: committed.weights.slice(1) }, /weights must be an array of \d+ numbers/);
    rejects(
      { ...committed, weights: [...committed.weights.slice(1), null] },
      /weights\[\d+\] must be a finite/,
    );
    rejects({ ...committed, std: committed.std.map((s, i) => (i === 2 ? 0 : s)) }, /std\[2\] must be > 0/);
    rejects({ ...committed, bias: 'x' }, /bias must be a finite number/);
  });

  it('rejects a wrong format, bad default thresholds and non-objects', () => {
    rejects({ ...committed, format: 'something-else' }, /format must be/);
    rejects(
      { ...committed, defaultThresholds: { reviewThreshold: 0.9, denyThreshold: 0.1 } },
      /defaultThresholds/,
    );
    rejects([], /must be a JSON object/);
    rejects(null, /must be a JSON object/);
  });

  it('reports unreadable and unparsable files as FRAUD_MODEL_INVALID', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fraud-model-'));
    const broken = join(dir, 'model.json');
    writeFileSync(broken, '{ "format": ');
    for (const [url, pattern] of [
      [pathToFileURL(broken), /not valid JSON/],
      [pathToFileURL(join(dir, 'missing.json')), /cannot read/],
    ] as const) {
      assert.throws(
        () => loadFraudModel(url),
        (err: unknown) =>
          isTitanError(err) && err.code === 'FRAUD_MODEL_INVALID' && pattern.test(err.message),
      );
    }
  });
});

describe('scoring', () => {
  it('returns a probability in [0, 1] and the same result for the same input', () => {
    const a = score(NORMAL_REQUEST, NORMAL_VELOCITY);
    const b = score({ ...NORMAL_REQUEST }, { ...NORMAL_VELOCITY });
    assert.ok(a.score > 0 && a.score < 1);
    assert.deepEqual(a, b);
  });

  it('allows an ordinary purchase with the default thresholds and names no reason', () => {
    const r = score(NORMAL_REQUEST, NORMAL_VELOCITY);
    assert.equal(r.decision, 'allow');
    assert.ok(r.score < 0.01, `${r.score}`);
    assert.deepEqual(r.reasons, []);
  });

  it('decides at and around the thresholds: >= review is review, >= deny is deny', () => {
    const s = score(NORMAL_REQUEST, NORMAL_VELOCITY).score;
    const decide = (reviewThreshold: number, denyThreshold: number) =>
      score(NORMAL_REQUEST, NORMAL_VELOCITY, { reviewThreshold, denyThreshold }).decision;
    const above = s * (1 + 1e-9);
    const below = s * (1 - 1e-9);
    assert.equal(decide(above, 1), 'allow');
    assert.equal(decide(s, 1), 'review');
    assert.equal(decide(below, 1), 'review');
    assert.equal(decide(below, above), 'review');
    assert.equal(decide(below, s), 'deny');
    assert.equal(decide(s, s), 'deny');
    assert.equal(decide(0, 0), 'deny');
    assert.equal(decide(1, 1), 'allow');
  });

  it('rejects thresholds outside 0 <= review <= deny <= 1 with FRAUD_INVALID_THRESHOLDS', () => {
    for (const t of [
      { reviewThreshold: 0.8, denyThreshold: 0.5 },
      { reviewThreshold: -0.1, denyThreshold: 0.5 },
      { reviewThreshold: 0.1, denyThreshold: 1.5 },
      { reviewThreshold: Number.NaN, denyThreshold: 0.5 },
    ]) {
      assert.throws(
        () => score(NORMAL_REQUEST, NORMAL_VELOCITY, t),
        (err: unknown) => isTitanError(err) && err.code === 'FRAUD_INVALID_THRESHOLDS' && err.status === 400,
      );
    }
  });

  it('throws FRAUD_INVALID_INPUT instead of allowing an unknown currency or a negative counter', () => {
    const unknownCurrency = { ...NORMAL_REQUEST, currency: 'XXX' };
    assert.throws(
      () => score(unknownCurrency, NORMAL_VELOCITY),
      (err: unknown) =>
        isTitanError(err) && err.code === 'FRAUD_INVALID_INPUT' && /request\.currency/.test(err.message),
    );
    const negative = { ...NORMAL_VELOCITY, userAttempts1h: -3 };
    assert.throws(
      () => score(NORMAL_REQUEST, negative),
      (err: unknown) =>
        isTitanError(err) && err.code === 'FRAUD_INVALID_INPUT' && /userAttempts1h/.test(err.message),
    );
  });

  it('reports contributions that add up to the logit minus the bias', () => {
    const c = CANONICAL_FRAUD[1]!;
    const all = FraudModel.fromJSON(committed, {
      maxReasons: 100,
      minContribution: Number.NEGATIVE_INFINITY,
    });
    const r = all.score(c.request, c.velocity);
    const logit = Math.log(r.score / (1 - r.score));
    const total = r.reasons.reduce((s, x) => s + x.contribution, 0);
    assert.ok(Math.abs(total - (logit - committed.bias)) < 1e-9, `${total} vs ${logit - committed.bias}`);
    for (let i = 1; i < r.reasons.length; i++) {
      assert.ok(r.reasons[i - 1]!.contribution >= r.reasons[i]!.contribution);
    }
  });
});

describe('fraud patterns', () => {
  const normal = score(NORMAL_REQUEST, NORMAL_VELOCITY).score;

  for (const c of CANONICAL_FRAUD) {
    it(`scores the canonical ${c.pattern} well above a normal purchase and names ${c.reason} first`, () => {
      const r = score(c.request, c.velocity);
      assert.ok(r.score > 20 * normal, `${r.score} vs normal ${normal}`);
      assert.equal(r.reasons[0]?.code, c.reason, JSON.stringify(r.reasons));
      assert.ok(r.reasons[0]!.contribution > 1);
    });
  }

  it('flags the canonical new-account, country-mismatch and card-testing cases for review or denial', () => {
    for (const c of CANONICAL_FRAUD.filter(
      (x) => x.pattern !== 'velocity_burst' && x.pattern !== 'many_cards_per_device',
    )) {
      assert.notEqual(score(c.request, c.velocity).decision, 'allow', c.pattern);
    }
  });

  it('scores every generated pattern above legitimate purchases on average', () => {
    const rng = createRng(2024);
    const mean = (pattern: (typeof FRAUD_PATTERNS)[number] | 'legit') => {
      let sum = 0;
      for (let i = 0; i < 400; i++) {
        const e = generateExample(rng, pattern);
        sum += model.probability(e.request, e.velocity);
      }
      return sum / 400;
    };
    const legit = mean('legit');
    for (const p of FRAUD_PATTERNS) {
      const m = mean(p);
      // Stealth fraud is built to look ordinary; the others must stand out clearly.
      assert.ok(m > (p === 'stealth' ? 1.2 : 5) * legit, `${p}: ${m} vs legit ${legit}`);
    }
  });

  it('keeps ROC AUC above 0.9 on a freshly generated held-out set', () => {
    const data = generateDataset({ seed: 777_001, size: 20_000 });
    const scores = data.map((e) => model.probability(e.request, e.velocity));
    const auc = rocAuc(
      scores,
      data.map((e) => e.label),
    );
    assert.ok(auc > 0.9, `AUC ${auc}`);
  });
});

describe('batch scoring', () => {
  it('equals single scoring item by item, in order, with custom thresholds', () => {
    const data = generateDataset({ seed: 31, size: 300, fraudRate: 0.3 });
    const inputs: FraudInput[] = data.map((e) => ({ request: e.request, velocity: e.velocity }));
    const t = { reviewThreshold: 0.05, denyThreshold: 0.5 };
    const batch = scoreBatch(inputs, t);
    assert.equal(batch.length, inputs.length);
    inputs.forEach((x, i) => {
      assert.deepEqual(batch[i], score(x.request, x.velocity, t));
    });
    assert.ok(new Set(batch.map((r) => r.decision)).size === 3, 'all three decisions occur');
  });

  it('returns an empty array for an empty batch and names the index of a bad item', () => {
    assert.deepEqual(scoreBatch([], OPEN), []);
    const good = { request: NORMAL_REQUEST, velocity: NORMAL_VELOCITY };
    const bad = {
      request: { ...NORMAL_REQUEST, currency: 'ZZZ' } as FraudRequest,
      velocity: NORMAL_VELOCITY,
    };
    assert.throws(
      () => scoreBatch([good, good, bad], OPEN),
      (err: unknown) =>
        isTitanError(err) && err.code === 'FRAUD_INVALID_INPUT' && err.details?.['index'] === 2,
    );
  });

  it('does not let one call leak state into the next (reused scratch buffers)', () => {
    const c = CANONICAL_FRAUD[4]!;
    const first = score(NORMAL_REQUEST, NORMAL_VELOCITY);
    score(c.request, c.velocity as VelocitySnapshot);
    assert.deepEqual(score(NORMAL_REQUEST, NORMAL_VELOCITY), first);
  });
});
