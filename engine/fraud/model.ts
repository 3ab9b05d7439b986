/**
 * The fraud scorer: an L2-regularised logistic regression over `FEATURES`, loaded once from model.json and
 * validated. `score` and `scoreBatch` are pure CPU: the weights are folded into one coefficient array at load
 * time, features go through one reusable Float64Array, and the only allocations are the result objects.
 *
 * Reasons: feature j contributes coef[j] * (x[j] - mean[j]) to the logit, i.e. how far this attempt moves the
 * log-odds away from the average training attempt (whose logit is the model's `bias`). Contributions are
 * summed per reason code; the codes that push the score up the most are returned, largest first.
 */
import { readFileSync } from 'node:fs';
import type { TitanError } from '../../services/kit/errors.ts';
import { FraudErrors } from './errors.ts';
import {
  extractFeatures,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_REASON_INDEX,
  FEATURES,
  type FraudRequest,
  REASON_CODES,
  type ReasonCode,
  type VelocitySnapshot,
  validateFraudInput,
} from './features.ts';

export const MODEL_FORMAT = 'titan-fraud-logistic-v1';

export interface FraudThresholds {
  /** score >= reviewThreshold (and < denyThreshold): send to review. */
  readonly reviewThreshold: number;
  /** score >= denyThreshold: deny. */
  readonly denyThreshold: number;
}

export type FraudDecision = 'allow' | 'review' | 'deny';

export interface FraudReason {
  readonly code: ReasonCode;
  /** Log-odds this reason adds relative to the average attempt (> 0). */
  readonly contribution: number;
}

export interface FraudScore {
  /** Fraud probability in [0, 1], calibrated to the training base rate. */
  readonly score: number;
  readonly decision: FraudDecision;
  /** Up to `maxReasons` codes that raise the score most, largest first; empty when nothing stands out. */
  readonly reasons: readonly FraudReason[];
}

export interface FraudInput {
  readonly request: FraudRequest;
  readonly velocity: VelocitySnapshot;
}

/** The model.json document written by train.ts. */
export interface FraudModelFile {
  readonly format: typeof MODEL_FORMAT;
  readonly version: string;
  readonly featureNames: readonly string[];
  readonly featureReasons: readonly string[];
  /** Standardisation: z = (x - mean) / std. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Weights on standardised features, and the intercept (the logit at the mean). */
  readonly weights: readonly number[];
  readonly bias: number;
  readonly defaultThresholds: FraudThresholds;
  readonly training: Readonly<Record<string, unknown>>;
  readonly metrics: Readonly<Record<string, unknown>>;
}

export interface FraudModelOptions {
  /** Most reasons per score (default 3). */
  readonly maxReasons?: number;
  /** Smallest contribution (log-odds) worth naming (default 0.1). */
  readonly minContribution?: number;
}

export const DEFAULT_MAX_REASONS = 3;
export const DEFAULT_MIN_CONTRIBUTION = 0.1;

const bad = (why: string, details?: Record<string, unknown>): TitanError =>
  FraudErrors.FRAUD_MODEL_INVALID(`model.json: ${why}`, details);

function finiteArray(doc: Record<string, unknown>, field: string): number[] {
  const v = doc[field];
  if (!Array.isArray(v) || v.length !== FEATURE_COUNT) {
    throw bad(`${field} must be an array of ${FEATURE_COUNT} numbers`, { field });
  }
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw bad(`${field}[${i}] must be a finite number`, { field });
  });
  return v as number[];
}

/** Returns the typed FRAUD_INVALID_THRESHOLDS error, or null when 0 <= review <= deny <= 1. */
export function checkThresholds(t: unknown): TitanError | null {
  if (typeof t !== 'object' || t === null) {
    return FraudErrors.FRAUD_INVALID_THRESHOLDS('thresholds must be { reviewThreshold, denyThreshold }');
  }
  const { reviewThreshold: r, denyThreshold: d } = t as Record<string, unknown>;
  if (typeof r !== 'number' || typeof d !== 'number' || !(r >= 0 && r <= d && d <= 1)) {
    return FraudErrors.FRAUD_INVALID_THRESHOLDS(
      `thresholds must satisfy 0 <= reviewThreshold <= denyThreshold <= 1, got review=${String(r)} deny=${String(d)}`,
      { reviewThreshold: r, denyThreshold: d },
    );
  }
  return null;
}

/** Validates a parsed model.json against this code's feature set; throws FRAUD_MODEL_INVALID. */
export function parseModelFile(raw: unknown): FraudModelFile {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('must be a JSON object');
  const doc = raw as Record<string, unknown>;
  if (doc['format'] !== MODEL_FORMAT) {
    throw bad(`format must be "${MODEL_FORMAT}", got ${JSON.stringify(doc['format'])}`, { field: 'format' });
  }
  if (typeof doc['version'] !== 'string' || doc['version'].length === 0) {
    throw bad('version must be a non-empty string', { field: 'version' });
  }
  for (const [field, expected] of [
    ['featureNames', FEATURE_NAMES],
    ['featureReasons', FEATURES.map((f) => f.reason)],
  ] as const) {
    const got = doc[field];
    if (!Array.isArray(got) || got.length !== expected.length || got.some((n, i) => n !== expected[i])) {
      throw bad(`${field} do not match this scorer's feature set (retrain with train.ts)`, {
        field,
        expected,
        got,
      });
    }
  }
  finiteArray(doc, 'mean');
  const std = finiteArray(doc, 'std');
  std.forEach((s, i) => {
    if (!(s > 0)) throw bad(`std[${i}] must be > 0`, { field: 'std' });
  });
  finiteArray(doc, 'weights');
  if (typeof doc['bias'] !== 'number' || !Number.isFinite(doc['bias'])) {
    throw bad('bias must be a finite number', { field: 'bias' });
  }
  const t = checkThresholds(doc['defaultThresholds']);
  if (t !== null) throw bad(`defaultThresholds: ${t.message}`, { field: 'defaultThresholds' });
  for (const field of ['training', 'metrics']) {
    const v = doc[field];
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw bad(`${field} must be an object`, { field });
  }
  return raw as FraudModelFile;
}

export class FraudModel {
  readonly version: string;
  readonly defaultThresholds: FraudThresholds;
  readonly file: FraudModelFile;
  private readonly coef = new Float64Array(FEATURE_COUNT);
  private readonly mean = new Float64Array(FEATURE_COUNT);
  private readonly intercept: number;
  private readonly maxReasons: number;
  private readonly minContribution: number;
  // Scratch, reused by every call; a worker scores one input at a time.
  private readonly x = new Float64Array(FEATURE_COUNT);
  private readonly perCode = new Float64Array(REASON_CODES.length);

  /** Validates `raw` (a parsed model.json) and builds a scorer; throws FRAUD_MODEL_INVALID. */
  static fromJSON(raw: unknown, options: FraudModelOptions = {}): FraudModel {
    return new FraudModel(parseModelFile(raw), options);
  }

  private constructor(file: FraudModelFile, options: FraudModelOptions) {
    this.file = file;
    this.version = file.version;
    this.defaultThresholds = {
      reviewThreshold: file.defaultThresholds.reviewThreshold,
      denyThreshold: file.defaultThresholds.denyThreshold,
    };
    this.maxReasons = options.maxReasons ?? DEFAULT_MAX_REASONS;
    this.minContribution = options.minContribution ?? DEFAULT_MIN_CONTRIBUTION;
    let intercept = file.bias;
    for (let j = 0; j < FEATURE_COUNT; j++) {
      const c = file.weights[j]! / file.std[j]!;
      this.coef[j] = c;
      this.mean[j] = file.mean[j]!;
      intercept -= c * file.mean[j]!;
    }
    this.intercept = intercept;
  }

  /** Scores one attempt. Thresholds default to the model's; throws FRAUD_INVALID_THRESHOLDS / FRAUD_INVALID_INPUT. */
  score(request: FraudRequest, velocity: VelocitySnapshot, thresholds?: FraudThresholds): FraudScore {
    const t = thresholds ?? this.defaultThresholds;
    const err = checkThresholds(t);
    if (err !== null) throw err;
    return this.scoreOne(request, velocity, t.reviewThreshold, t.denyThreshold, undefined);
  }

  /**
   * Scores many attempts with one thresholds check; results are in input order and equal `score` item by item.
   * A malformed item throws FRAUD_INVALID_INPUT naming its index (validate at the boundary to avoid that).
   */
  scoreBatch(inputs: readonly FraudInput[], thresholds?: FraudThresholds): FraudScore[] {
    const t = thresholds ?? this.defaultThresholds;
    const err = checkThresholds(t);
    if (err !== null) throw err;
    const review = t.reviewThreshold;
    const deny = t.denyThreshold;
    const n = inputs.length;
    const out: FraudScore[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const input = inputs[i]!;
      out[i] = this.scoreOne(input.request, input.velocity, review, deny, i);
    }
    return out;
  }

  /** The fraud probability alone, without decision or reasons (for evaluation). */
  probability(request: FraudRequest, velocity: VelocitySnapshot): number {
    const x = this.x;
    extractFeatures(request, velocity, x);
    let z = this.intercept;
    for (let j = 0; j < FEATURE_COUNT; j++) z += this.coef[j]! * x[j]!;
    if (Number.isNaN(z)) throw this.inputError(request, velocity, undefined);
    return 1 / (1 + Math.exp(-z));
  }

  private scoreOne(
    request: FraudRequest,
    velocity: VelocitySnapshot,
    review: number,
    deny: number,
    index: number | undefined,
  ): FraudScore {
    const x = this.x;
    const coef = this.coef;
    const mean = this.mean;
    const perCode = this.perCode;
    extractFeatures(request, velocity, x);
    perCode.fill(0);
    let z = this.intercept;
    for (let j = 0; j < FEATURE_COUNT; j++) {
      const c = coef[j]!;
      const xj = x[j]!;
      z += c * xj;
      perCode[FEATURE_REASON_INDEX[j]!]! += c * (xj - mean[j]!);
    }
    // NaN means an unknown currency or a malformed field: never let it fall through to "allow".
    if (Number.isNaN(z)) throw this.inputError(request, velocity, index);
    const score = 1 / (1 + Math.exp(-z));
    const decision: FraudDecision = score >= deny ? 'deny' : score >= review ? 'review' : 'allow';
    return { score, decision, reasons: this.topReasons() };
  }

  private topReasons(): FraudReason[] {
    const perCode = this.perCode;
    const reasons: FraudReason[] = [];
    for (let k = 0; k < this.maxReasons; k++) {
      let best = -1;
      let bestValue = this.minContribution;
      for (let r = 0; r < perCode.length; r++) {
        const v = perCode[r]!;
        if (v > bestValue) {
          bestValue = v;
          best = r;
        }
      }
      if (best < 0) break;
      reasons.push({ code: REASON_CODES[best]!, contribution: bestValue });
      perCode[best] = Number.NEGATIVE_INFINITY;
    }
    return reasons;
  }

  private inputError(request: unknown, velocity: unknown, index: number | undefined): TitanError {
    return (
      validateFraudInput(request, velocity, index) ??
      FraudErrors.FRAUD_INVALID_INPUT(
        'input produced a non-numeric feature',
        index === undefined ? {} : { index },
      )
    );
  }
}

export const DEFAULT_MODEL_URL = new URL('./model.json', import.meta.url);

/** Reads, parses and validates a model file; throws FRAUD_MODEL_INVALID with the reason. */
export function loadFraudModel(url: URL = DEFAULT_MODEL_URL, options: FraudModelOptions = {}): FraudModel {
  let text: string;
  try {
    text = readFileSync(url, 'utf8');
  } catch (err) {
    throw bad(`cannot read ${url.pathname}: ${(err as Error).message}`, { path: url.pathname });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON: ${(err as Error).message}`, { path: url.pathname });
  }
  return FraudModel.fromJSON(raw, options);
}

let defaultModel: FraudModel | undefined;

/** The committed model.json, loaded and validated once per process (or worker). */
export function defaultFraudModel(): FraudModel {
  defaultModel ??= loadFraudModel();
  return defaultModel;
}

/** Scores one attempt with the committed model. */
export function score(
  request: FraudRequest,
  velocity: VelocitySnapshot,
  thresholds?: FraudThresholds,
): FraudScore {
  return defaultFraudModel().score(request, velocity, thresholds);
}

/** Scores a batch with the committed model; equals `score` item by item. */
export function scoreBatch(inputs: readonly FraudInput[], thresholds?: FraudThresholds): FraudScore[] {
  return defaultFraudModel().scoreBatch(inputs, thresholds);
}
