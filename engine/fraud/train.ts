/**
 * Trains the fraud model and writes model.json and TRAINING-REPORT.md beside this file.
 * Run: npx tsx engine/fraud/train.ts [--seed N] [--train N] [--validation N] [--test N]
 *
 * Model: logistic regression with an L2 penalty, fitted by Newton's method (IRLS) on standardised features.
 * With 17 features a Newton step is one 18x18 Cholesky solve, so the fit converges in a handful of exact,
 * deterministic steps (no learning rate, no shuffling), and the model is additive, so its reasons are exact.
 * Thresholds are chosen on a validation split (the lowest score whose flagged set still reaches the
 * precision target), and everything is reported on a separate held-out test split, scored through the
 * serving code path (`FraudModel`). Same seed and sizes -> same model.json, byte for byte.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { extractFeatures, FEATURE_COUNT, FEATURE_NAMES, FEATURES } from './features.ts';
import {
  DEFAULT_FRAUD_RATE,
  type Example,
  FRAUD_PATTERN_SHARES,
  FRAUD_PATTERNS,
  generateDataset,
} from './generate-data.ts';
import { FraudModel, type FraudModelFile, type FraudThresholds, MODEL_FORMAT } from './model.ts';

export interface TrainOptions {
  readonly seed: number;
  readonly trainSize: number;
  readonly validationSize: number;
  readonly testSize: number;
  readonly fraudRate?: number;
  /** L2 penalty on the standardised weights (not the intercept), in units of the summed log-loss. */
  readonly l2?: number;
  /** Precision the review queue must reach on validation. */
  readonly reviewPrecision?: number;
  /** Precision automatic denials must reach on validation. */
  readonly denyPrecision?: number;
}

export const DEFAULT_TRAIN_OPTIONS = {
  seed: 20_250_501,
  trainSize: 200_000,
  validationSize: 100_000,
  testSize: 100_000,
  fraudRate: DEFAULT_FRAUD_RATE,
  l2: 1,
  reviewPrecision: 0.5,
  denyPrecision: 0.9,
} as const;

/** Fewest flagged validation attempts a threshold may rest on, so a handful of top scores cannot set it. */
const MIN_FLAGGED = 25;
const MAX_NEWTON_STEPS = 50;
const NEWTON_TOLERANCE = 1e-10;

export interface ThresholdMetrics {
  readonly threshold: number;
  readonly flagged: number;
  readonly flaggedRate: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  readonly trueNegatives: number;
  readonly precision: number;
  readonly recall: number;
  readonly falsePositiveRate: number;
}

export interface EvaluationMetrics {
  readonly size: number;
  readonly fraud: number;
  readonly auc: number;
  readonly averagePrecision: number;
  readonly logLoss: number;
  readonly meanScore: number;
  readonly review: ThresholdMetrics;
  readonly deny: ThresholdMetrics;
  /** Decisions by true class: [allow, review, deny]. */
  readonly decisions: { readonly legit: readonly number[]; readonly fraud: readonly number[] };
  /** Per fraud pattern: count and recall at the review and deny thresholds. */
  readonly perPattern: Readonly<Record<string, { count: number; recallReview: number; recallDeny: number }>>;
}

export interface TrainResult {
  readonly model: FraudModelFile;
  readonly report: string;
  readonly test: EvaluationMetrics;
  readonly newtonSteps: number;
}

/** Row-major feature matrix and labels of a data set, through the serving feature extraction. */
export function featureMatrix(examples: readonly Example[]): { x: Float64Array; y: Uint8Array } {
  const x = new Float64Array(examples.length * FEATURE_COUNT);
  const y = new Uint8Array(examples.length);
  examples.forEach((e, i) => {
    extractFeatures(e.request, e.velocity, x, i * FEATURE_COUNT);
    y[i] = e.label;
  });
  return { x, y };
}

/** ROC AUC by the rank-sum statistic, ties counted half. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = sortedDescending(scores);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  // Walk from the highest score; each negative outranks... count pairs (pos above neg) with tie groups.
  let negSeen = 0;
  let wrong = 0;
  let i = 0;
  while (i < order.length) {
    let j = i;
    let pos = 0;
    let neg = 0;
    const s = scores[order[i]!]!;
    while (j < order.length && scores[order[j]!] === s) {
      if (labels[order[j]!] === 1) pos++;
      else neg++;
      j++;
    }
    wrong += pos * negSeen + 0.5 * pos * neg;
    negSeen += neg;
    i = j;
  }
  return 1 - wrong / (positives * negatives);
}

function sortedDescending(scores: ArrayLike<number>): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => scores[b]! - scores[a]! || a - b);
}

function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = sortedDescending(scores);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  let tp = 0;
  let sum = 0;
  for (let k = 0; k < order.length; k++) {
    if (labels[order[k]!] === 1) {
      tp++;
      sum += tp / (k + 1);
    }
  }
  return positives === 0 ? Number.NaN : sum / positives;
}

/**
 * The lowest threshold whose flagged set (score >= threshold) keeps precision >= target, with at least
 * MIN_FLAGGED flagged; placed midway to the next lower score so it generalises. 1 when none qualifies.
 */
export function chooseThreshold(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  target: number,
): number {
  const order = sortedDescending(scores);
  let tp = 0;
  let best = 1;
  let i = 0;
  while (i < order.length) {
    const s = scores[order[i]!]!;
    let j = i;
    while (j < order.length && scores[order[j]!] === s) tp += labels[order[j++]!]!;
    if (j >= MIN_FLAGGED && tp / j >= target) {
      best = j < order.length ? (s + scores[order[j]!]!) / 2 : s;
    }
    i = j;
  }
  return best;
}

function thresholdMetrics(scores: Float64Array, labels: Uint8Array, threshold: number): ThresholdMetrics {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < scores.length; i++) {
    const flagged = scores[i]! >= threshold;
    if (labels[i] === 1) flagged ? tp++ : fn++;
    else flagged ? fp++ : tn++;
  }
  return {
    threshold,
    flagged: tp + fp,
    flaggedRate: (tp + fp) / scores.length,
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    trueNegatives: tn,
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
    falsePositiveRate: fp + tn === 0 ? 0 : fp / (fp + tn),
  };
}

/** Scores a data set through the serving scorer and measures it at the given thresholds. */
export function evaluate(
  scorer: FraudModel,
  examples: readonly Example[],
  t: FraudThresholds,
): EvaluationMetrics {
  const scores = new Float64Array(examples.length);
  const labels = new Uint8Array(examples.length);
  const decisions = { legit: [0, 0, 0], fraud: [0, 0, 0] };
  const perPattern: Record<string, { count: number; recallReview: number; recallDeny: number }> = {};
  for (const p of FRAUD_PATTERNS) perPattern[p] = { count: 0, recallReview: 0, recallDeny: 0 };
  let logLoss = 0;
  let sum = 0;
  examples.forEach((e, i) => {
    const s = scorer.probability(e.request, e.velocity);
    scores[i] = s;
    labels[i] = e.label;
    sum += s;
    logLoss -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, e.label === 1 ? s : 1 - s)));
    const d = s >= t.denyThreshold ? 2 : s >= t.reviewThreshold ? 1 : 0;
    (e.label === 1 ? decisions.fraud : decisions.legit)[d]!++;
    const pp = perPattern[e.pattern];
    if (pp !== undefined) {
      pp.count++;
      if (d >= 1) pp.recallReview++;
      if (d === 2) pp.recallDeny++;
    }
  });
  for (const pp of Object.values(perPattern)) {
    pp.recallReview = pp.count === 0 ? 0 : pp.recallReview / pp.count;
    pp.recallDeny = pp.count === 0 ? 0 : pp.recallDeny / pp.count;
  }
  return {
    size: examples.length,
    fraud: labels.reduce((a, b) => a + b, 0),
    auc: rocAuc(scores, labels),
    averagePrecision: averagePrecision(scores, labels),
    logLoss: logLoss / examples.length,
    meanScore: sum / examples.length,
    review: thresholdMetrics(scores, labels, t.reviewThreshold),
    deny: thresholdMetrics(scores, labels, t.denyThreshold),
    decisions,
    perPattern,
  };
}

/** Solves A x = b for a symmetric positive definite A (n x n, row-major) by Cholesky; A is overwritten. */
function choleskySolve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= a[j * n + k]! ** 2;
    if (!(d > 0)) throw new Error('Hessian is not positive definite');
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= a[i * n + k]! * a[j * n + k]!;
      a[i * n + j] = s / l;
    }
  }
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let s = x[i]!;
    for (let k = 0; k < i; k++) s -= a[i * n + k]! * x[k]!;
    x[i] = s / a[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let k = i + 1; k < n; k++) s -= a[k * n + i]! * x[k]!;
    x[i] = s / a[i * n + i]!;
  }
  return x;
}

/** The objective: sum_i logloss_i + l2/2 * |w|^2 (intercept not penalised). */
function penalisedLoss(z: Float64Array, y: Uint8Array, d: number, l2: number, beta: Float64Array): number {
  let loss = 0;
  for (let i = 0; i < y.length; i++) {
    let eta = beta[0]!;
    for (let j = 0; j < d; j++) eta += beta[j + 1]! * z[i * d + j]!;
    // log(1 + e^eta) - y * eta, computed without overflow.
    loss += (eta > 0 ? eta + Math.log1p(Math.exp(-eta)) : Math.log1p(Math.exp(eta))) - y[i]! * eta;
  }
  for (let j = 1; j <= d; j++) loss += 0.5 * l2 * beta[j]! ** 2;
  return loss;
}

/**
 * Fits intercept + weights on standardised rows by damped Newton (step halving until the penalised loss
 * drops, which plain Newton does not guarantee on nearly separable patterns). Returns beta (index 0 the
 * intercept) and the number of Newton steps taken.
 */
export function fitLogistic(
  z: Float64Array,
  y: Uint8Array,
  d: number,
  l2: number,
): { beta: Float64Array; steps: number } {
  const n = y.length;
  const m = d + 1;
  let beta = new Float64Array(m);
  let positives = 0;
  for (let i = 0; i < n; i++) positives += y[i]!;
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, positives / n));
  beta[0] = Math.log(rate / (1 - rate));
  let loss = penalisedLoss(z, y, d, l2, beta);
  const row = new Float64Array(m);
  let steps = 0;
  while (steps < MAX_NEWTON_STEPS) {
    const g = new Float64Array(m);
    const h = new Float64Array(m * m);
    for (let i = 0; i < n; i++) {
      row[0] = 1;
      let eta = beta[0]!;
      for (let j = 0; j < d; j++) {
        const v = z[i * d + j]!;
        row[j + 1] = v;
        eta += beta[j + 1]! * v;
      }
      const p = 1 / (1 + Math.exp(-eta));
      const r = y[i]! - p;
      const w = p * (1 - p);
      for (let a = 0; a < m; a++) {
        const ra = row[a]!;
        g[a]! += ra * r;
        const wa = w * ra;
        for (let b = 0; b <= a; b++) h[a * m + b]! += wa * row[b]!;
      }
    }
    for (let a = 0; a < m; a++) for (let b = a + 1; b < m; b++) h[a * m + b] = h[b * m + a]!;
    for (let j = 1; j < m; j++) {
      g[j]! -= l2 * beta[j]!;
      h[j * m + j]! += l2;
    }
    const delta = choleskySolve(h, g, m);
    steps++;
    let t = 1;
    let next = beta;
    let nextLoss = loss;
    for (let halvings = 0; halvings < 40; halvings++, t /= 2) {
      const candidate = beta.map((b, j) => b + t * delta[j]!);
      const candidateLoss = penalisedLoss(z, y, d, l2, candidate);
      if (candidateLoss <= loss) {
        next = candidate;
        nextLoss = candidateLoss;
        break;
      }
    }
    let biggest = 0;
    for (let j = 0; j < m; j++) biggest = Math.max(biggest, Math.abs(next[j]! - beta[j]!));
    beta = next;
    const improved = loss - nextLoss;
    loss = nextLoss;
    if (biggest < NEWTON_TOLERANCE || improved <= 1e-12 * Math.abs(loss)) break;
  }
  return { beta, steps };
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

/** Generates the splits, fits, picks thresholds on validation, evaluates on test. Pure: writes nothing. */
export function trainModel(partial: Partial<TrainOptions> = {}): TrainResult {
  const o = { ...DEFAULT_TRAIN_OPTIONS, ...partial };
  // Three independent streams from one seed, so changing one split's size leaves the others unchanged.
  const train = generateDataset({ seed: o.seed, size: o.trainSize, fraudRate: o.fraudRate });
  const validation = generateDataset({
    seed: (o.seed ^ 0x5bd1e995) >>> 0,
    size: o.validationSize,
    fraudRate: o.fraudRate,
  });
  const test = generateDataset({
    seed: (o.seed ^ 0x27d4eb2f) >>> 0,
    size: o.testSize,
    fraudRate: o.fraudRate,
  });

  const { x, y } = featureMatrix(train);
  const n = y.length;
  const d = FEATURE_COUNT;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) std[j]! += (x[i * d + j]! - mean[j]!) ** 2;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]! / n) || 1;
  const z = new Float64Array(x.length);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) z[i * d + j] = (x[i * d + j]! - mean[j]!) / std[j]!;

  const { beta, steps } = fitLogistic(z, y, d, o.l2);
  const base: FraudModelFile = {
    format: MODEL_FORMAT,
    version: `lr1-seed${o.seed}-n${o.trainSize}`,
    featureNames: FEATURE_NAMES,
    featureReasons: FEATURES.map((f) => f.reason),
    mean,
    std,
    weights: Array.from(beta.subarray(1)),
    bias: beta[0]!,
    defaultThresholds: { reviewThreshold: 0.5, denyThreshold: 0.5 },
    training: {},
    metrics: {},
  };

  const provisional = FraudModel.fromJSON(base);
  const vScores = Float64Array.from(validation, (e) => provisional.probability(e.request, e.velocity));
  const vLabels = Uint8Array.from(validation, (e) => e.label);
  const denyThreshold = chooseThreshold(vScores, vLabels, o.denyPrecision);
  const reviewThreshold = Math.min(chooseThreshold(vScores, vLabels, o.reviewPrecision), denyThreshold);
  const thresholds = { reviewThreshold, denyThreshold };
  const scorer = FraudModel.fromJSON({ ...base, defaultThresholds: thresholds });
  const validationMetrics = evaluate(scorer, validation, thresholds);
  const testMetrics = evaluate(scorer, test, thresholds);

  const model: FraudModelFile = {
    ...base,
    defaultThresholds: thresholds,
    training: {
      algorithm: 'logistic regression, L2, Newton/IRLS on standardised features',
      generator: 'engine/fraud/generate-data.ts (xoshiro128** seeded by splitmix32)',
      seed: o.seed,
      sizes: { train: o.trainSize, validation: o.validationSize, test: o.testSize },
      fraudRate: o.fraudRate,
      patternShares: FRAUD_PATTERN_SHARES,
      l2: o.l2,
      newtonSteps: steps,
      thresholdRule: {
        review: `lowest score with validation precision >= ${o.reviewPrecision}`,
        deny: `lowest score with validation precision >= ${o.denyPrecision}`,
      },
    },
    metrics: {
      test: {
        auc: round(testMetrics.auc),
        averagePrecision: round(testMetrics.averagePrecision),
        review: { precision: round(testMetrics.review.precision), recall: round(testMetrics.review.recall) },
        deny: { precision: round(testMetrics.deny.precision), recall: round(testMetrics.deny.recall) },
      },
    },
  };
  return {
    model,
    report: renderReport(model, o, validationMetrics, testMetrics, steps),
    test: testMetrics,
    newtonSteps: steps,
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

function thresholdRow(name: string, m: ThresholdMetrics): string {
  return (
    `| ${name} | ${m.threshold.toFixed(4)} | ${m.flagged} (${pct(m.flaggedRate)}) | ${pct(m.precision)} | ` +
    `${pct(m.recall)} | ${pct(m.falsePositiveRate)} | ${m.truePositives} / ${m.falsePositives} / ` +
    `${m.falseNegatives} / ${m.trueNegatives} |`
  );
}

function renderReport(
  model: FraudModelFile,
  o: Required<TrainOptions>,
  validation: EvaluationMetrics,
  test: EvaluationMetrics,
  steps: number,
): string {
  const t = model.defaultThresholds;
  const lines = [
    '# Fraud model: training report',
    '',
    `Generated by \`npx tsx engine/fraud/train.ts\` (deterministic: same seed and sizes, same model.json). Model \`${model.version}\`.`,
    '',
    '## Set-up',
    '',
    `- Model: logistic regression, L2 = ${o.l2} on standardised weights, fitted by Newton/IRLS (${steps} steps).`,
    `- Data: synthetic, \`generate-data.ts\`, seed ${o.seed}; fraud rate ${pct(o.fraudRate)}; splits drawn from independent streams:` +
      ` train ${o.trainSize}, validation ${o.validationSize}, test ${o.testSize} (held out: used for nothing but this report).`,
    `- Pattern shares among fraud: ${Object.entries(FRAUD_PATTERN_SHARES)
      .map(([p, s]) => `${p} ${pct(s)}`)
      .join(', ')}.`,
    `- Thresholds chosen on validation: review = lowest score whose flagged set has precision >= ${pct(o.reviewPrecision)};` +
      ` deny = the same at precision >= ${pct(o.denyPrecision)} (at least ${MIN_FLAGGED} flagged).`,
    `  Result: **reviewThreshold = ${t.reviewThreshold.toFixed(6)}, denyThreshold = ${t.denyThreshold.toFixed(6)}**.`,
    '',
    '## Held-out test set',
    '',
    `${test.size} attempts, ${test.fraud} fraud (${pct(test.fraud / test.size)}).`,
    '',
    `- ROC AUC: **${test.auc.toFixed(4)}**`,
    `- Average precision (PR AUC): ${test.averagePrecision.toFixed(4)}`,
    `- Log-loss: ${test.logLoss.toFixed(4)}; mean score ${test.meanScore.toFixed(4)} vs fraud rate ${(test.fraud / test.size).toFixed(4)}`,
    '',
    '"Flagged" = score >= threshold (review flags everything deny does).',
    '',
    '| threshold | value | flagged | precision | recall | FPR | TP / FP / FN / TN |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    thresholdRow('review', test.review),
    thresholdRow('deny', test.deny),
    '',
    'Decisions by true class:',
    '',
    '| class | allow | review | deny |',
    '| --- | --- | --- | --- |',
    `| legitimate | ${test.decisions.legit.join(' | ')} |`,
    `| fraud | ${test.decisions.fraud.join(' | ')} |`,
    '',
    'Recall per fraud pattern:',
    '',
    '| pattern | count | recall at review | recall at deny |',
    '| --- | --- | --- | --- |',
    ...Object.entries(test.perPattern).map(
      ([p, m]) => `| ${p} | ${m.count} | ${pct(m.recallReview)} | ${pct(m.recallDeny)} |`,
    ),
    '',
    '## Validation set (where the thresholds were chosen)',
    '',
    `ROC AUC ${validation.auc.toFixed(4)}, average precision ${validation.averagePrecision.toFixed(4)}.`,
    '',
    '| threshold | value | flagged | precision | recall | FPR | TP / FP / FN / TN |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    thresholdRow('review', validation.review),
    thresholdRow('deny', validation.deny),
    '',
    '## Weights',
    '',
    'On standardised features (z = (x - mean) / std); the intercept (logit of the average attempt) is ' +
      `${model.bias.toFixed(4)}.`,
    '',
    '| feature | reason code | mean | std | weight |',
    '| --- | --- | --- | --- | --- |',
    ...FEATURES.map(
      (f, j) =>
        `| ${f.name} | ${f.reason} | ${model.mean[j]!.toFixed(4)} | ${model.std[j]!.toFixed(4)} | ${model.weights[j]!.toFixed(4)} |`,
    ),
    '',
    '## Caveats',
    '',
    "- The data are synthetic; the figures measure how well the model recovers the generator's patterns, not",
    '  real-world fraud. Retrain on labelled production outcomes (chargebacks, confirmed fraud) before trusting',
    '  the thresholds; the feature set and the velocity counters stay the same.',
    '- "stealth" fraud (account takeover with the victim\'s habits) is deliberately almost indistinguishable;',
    '  its low recall is the ceiling any model has on these features.',
    '',
  ];
  return lines.join('\n');
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      train: { type: 'string' },
      validation: { type: 'string' },
      test: { type: 'string' },
    },
  });
  const num = (v: string | undefined, fallback: number): number => (v === undefined ? fallback : Number(v));
  const started = performance.now();
  const result = trainModel({
    seed: num(values.seed, DEFAULT_TRAIN_OPTIONS.seed),
    trainSize: num(values.train, DEFAULT_TRAIN_OPTIONS.trainSize),
    validationSize: num(values.validation, DEFAULT_TRAIN_OPTIONS.validationSize),
    testSize: num(values.test, DEFAULT_TRAIN_OPTIONS.testSize),
  });
  const modelPath = fileURLToPath(new URL('./model.json', import.meta.url));
  const reportPath = fileURLToPath(new URL('./TRAINING-REPORT.md', import.meta.url));
  writeFileSync(modelPath, `${JSON.stringify(result.model, null, 2)}\n`);
  writeFileSync(reportPath, result.report);
  // Leave the files exactly as the project's formatter wants them, so `biome check` passes on a fresh run.
  try {
    const biome = fileURLToPath(new URL('../../node_modules/.bin/biome', import.meta.url));
    execFileSync(biome, ['format', '--write', modelPath, reportPath], { stdio: 'ignore' });
  } catch (err) {
    console.warn(
      `biome format failed (${(err as Error).message}); run: npx biome format --write engine/fraud`,
    );
  }
  const m = result.test;
  const t = result.model.defaultThresholds;
  console.log(
    `trained ${result.model.version} in ${((performance.now() - started) / 1000).toFixed(1)} s (${result.newtonSteps} Newton steps)\n` +
      `test AUC ${m.auc.toFixed(4)}, AP ${m.averagePrecision.toFixed(4)}\n` +
      `review >= ${t.reviewThreshold.toFixed(4)}: precision ${pct(m.review.precision)}, recall ${pct(m.review.recall)}\n` +
      `deny   >= ${t.denyThreshold.toFixed(4)}: precision ${pct(m.deny.precision)}, recall ${pct(m.deny.recall)}\n` +
      'wrote engine/fraud/model.json and engine/fraud/TRAINING-REPORT.md',
  );
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
