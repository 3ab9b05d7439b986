/**
 * Fraud scoring for the hot path: a logistic-regression model over request features and Redis velocity
 * counters, with allow / review / deny decisions at per-cell thresholds and machine-readable reasons.
 * Scoring runs in the fraud worker pool; see README.md for the features, the counters and the model.
 */
export { type FraudErrorCode, FraudErrors } from './errors.ts';
export {
  accountAgeDays,
  amountUsd,
  assertFraudInput,
  CURRENCIES,
  extractFeatures,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURES,
  type FraudRequest,
  isSmallAmount,
  REASON_CODES,
  type ReasonCode,
  SMALL_AMOUNT_USD,
  VELOCITY_COUNTERS,
  type VelocityCounterSpec,
  type VelocitySnapshot,
  validateFraudInput,
} from './features.ts';
export {
  checkThresholds,
  DEFAULT_MODEL_URL,
  defaultFraudModel,
  type FraudDecision,
  type FraudInput,
  FraudModel,
  type FraudModelFile,
  type FraudModelOptions,
  type FraudReason,
  type FraudScore,
  type FraudThresholds,
  loadFraudModel,
  MODEL_FORMAT,
  parseModelFile,
  score,
  scoreBatch,
} from './model.ts';
