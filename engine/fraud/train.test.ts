import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FraudModel } from './model.ts';
import { chooseThreshold, rocAuc, trainModel } from './train.ts';

const SMALL = { trainSize: 6_000, validationSize: 3_000, testSize: 3_000 };

describe('training', () => {
  it('is deterministic: the same seed gives the same model.json twice, another seed does not', () => {
    const a = trainModel({ ...SMALL, seed: 99 });
    const b = trainModel({ ...SMALL, seed: 99 });
    const c = trainModel({ ...SMALL, seed: 100 });
    assert.equal(JSON.stringify(a.model), JSON.stringify(b.model));
    assert.equal(a.report, b.report);
    assert.notDeepEqual(a.model.weights, c.model.weights);
  });

  it('produces a model the scorer accepts, with thresholds in order and useful held-out figures', () => {
    const r = trainModel({ ...SMALL, seed: 5 });
    const m = FraudModel.fromJSON(r.model);
    assert.ok(m.defaultThresholds.reviewThreshold <= m.defaultThresholds.denyThreshold);
    assert.ok(r.test.auc > 0.88, `${r.test.auc}`);
    assert.ok(r.test.review.recall >= r.test.deny.recall);
    assert.match(r.report, /ROC AUC: \*\*0\.\d{4}\*\*/);
  });
});

describe('metrics', () => {
  it('computes ROC AUC with ties counted half', () => {
    assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]), 1);
    assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]), 0);
    assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]), 0.5);
    assert.equal(rocAuc([0.9, 0.3, 0.5, 0.1], [1, 1, 0, 0]), 0.75);
  });

  it('picks the lowest threshold that keeps the precision target', () => {
    // 30 positives on top, then alternating: precision stays >= 0.9 down to some point.
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 30; i++) {
      scores.push(1 - i / 1000);
      labels.push(1);
    }
    for (let i = 0; i < 30; i++) {
      scores.push(0.5 - i / 1000);
      labels.push(i % 2);
    }
    const t = chooseThreshold(scores, labels, 0.9);
    const flagged = scores.map((s, i) => [s, labels[i]!] as const).filter(([s]) => s >= t);
    const precision = flagged.filter(([, l]) => l === 1).length / flagged.length;
    assert.ok(precision >= 0.9, `${precision}`);
    // One more item would break the target.
    const next = Math.max(...scores.filter((s) => s < t));
    const wider = scores.map((s, i) => [s, labels[i]!] as const).filter(([s]) => s >= next);
    assert.ok(wider.filter(([, l]) => l === 1).length / wider.length < 0.9);
    assert.equal(chooseThreshold([0.9, 0.8], [0, 0], 0.5), 1);
  });
});
