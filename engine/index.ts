/** The engine's public face: what the edge and operators' tooling use. Everything else in engine/ is internal. */
export {
  createEngine,
  DEFAULT_REPLICA_WAIT,
  DEFAULT_TASK_TIMEOUT_MS,
  Engine,
  type EngineOptions,
  type PoolStats,
} from './engine.ts';
export { type EngineErrorCode, EngineErrors } from './errors.ts';
export type {
  FraudDecision,
  FraudReason,
  FraudRequest,
  ReasonCode,
  VelocitySnapshot,
} from './fraud/index.ts';
export type {
  BusyOutcome,
  CartCommitOutcome,
  CartHoldView,
  CartItemRequest,
  CartReleaseOutcome,
  CartReserveOutcome,
  CartReserveRequest,
  FlashSaleRequest,
  FraudOutcome,
  FraudScoredOutcome,
  PurchaseOutcome,
  RecordedOutcome,
  RetryOutcome,
  RetryReason,
} from './outcomes.ts';
