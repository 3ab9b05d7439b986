/**
 * Typed results the engine returns. Busy and retriable failures are results too, so the edge maps every
 * outcome to a response without try/catch; only caller mistakes are thrown (see errors.ts).
 */
import type { PurchaseResult, RecordedPurchase } from '../lua/flash-sale-purchase.ts';
import type { CommitStatus, ReleaseStatus } from '../lua/loader.ts';
import type { FraudDecision, FraudReason, VelocitySnapshot } from './fraud/index.ts';

/** Why a request may be retried: nothing was applied, or (after a crash) retrying the same key is safe. */
export type RetryReason = 'worker_crashed' | 'worker_error' | 'timeout' | 'redis_unavailable' | 'pool_closed';

export interface BusyOutcome {
  readonly status: 'busy';
  /** Hint for the client's Retry-After, from the pool's recent task run time and queue depth. */
  readonly retryAfterMs: number;
}
export interface RetryOutcome {
  readonly status: 'retry';
  readonly reason: RetryReason;
  readonly retryAfterMs: number;
}

/** The answers an idempotency key can have recorded (a `duplicate` replays one of these): the script's own. */
export type RecordedOutcome = RecordedPurchase;

/** The purchase script's answers (lua/flash-sale-purchase.ts), or the engine's busy / retry. */
export type PurchaseOutcome = PurchaseResult | BusyOutcome | RetryOutcome;

export interface FlashSaleRequest {
  readonly saleId: string;
  readonly userId: string;
  readonly quantity: number;
  readonly idempotencyKey: string;
  /** When the edge received the request (ms); the sale window is judged by it. Defaults to Date.now(). */
  readonly at?: number;
}

export interface CartItemRequest {
  readonly sku: string;
  readonly quantity: number;
}
export interface CartReserveRequest {
  readonly holdId: string;
  readonly ttlMs: number;
  readonly items: readonly CartItemRequest[];
}
export interface CartHoldView {
  readonly state: 'reserved' | 'committed' | 'released' | 'expired';
  readonly expiresAt: number;
  readonly items: readonly CartItemRequest[];
}
export type CartReserveOutcome =
  | { readonly status: 'reserved'; readonly expiresAt: number }
  | { readonly status: 'out_of_stock'; readonly skus: readonly string[] }
  | { readonly status: 'duplicate'; readonly hold: CartHoldView }
  | BusyOutcome
  | RetryOutcome;

type Lower<S extends string> = Lowercase<S>;
export type CartCommitOutcome = { readonly status: Lower<CommitStatus> } | BusyOutcome | RetryOutcome;
export type CartReleaseOutcome = { readonly status: Lower<ReleaseStatus> } | BusyOutcome | RetryOutcome;

/** A scored checkout attempt: engine/fraud's score at the cell's thresholds, and the counters it read. */
export interface FraudScoredOutcome {
  readonly status: 'scored';
  /** Fraud probability in [0, 1]. */
  readonly score: number;
  /** At the cell's `pools.fraud` thresholds when the attempt's batch was formed. */
  readonly decision: FraudDecision;
  /** Up to 3 reason codes raising the score most, largest first. */
  readonly reasons: readonly FraudReason[];
  /** The velocity counters this attempt was scored with (recorded in the same Lua call, itself included). */
  readonly velocity: VelocitySnapshot;
}
export type FraudOutcome = FraudScoredOutcome | BusyOutcome | RetryOutcome;

export function busy(retryAfterMs: number): BusyOutcome {
  return { status: 'busy', retryAfterMs };
}
export function retry(reason: RetryReason, retryAfterMs: number): RetryOutcome {
  return { status: 'retry', reason, retryAfterMs };
}
