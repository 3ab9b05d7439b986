/**
 * Idempotent consumers: the event id is recorded in `titan_event_applied` in the SAME PostgreSQL
 * transaction as the handler's effect. A redelivered event finds its id there and changes nothing; a
 * concurrent duplicate waits on the primary key until the first commits, then finds it too. If the effect
 * fails, the transaction rolls back and the id is not recorded, so the event can be applied later.
 */
import { type Pool, type PoolClient, withTransaction } from '../kit/index.ts';
import type { DeliveryInfo, EventHandler } from './bus.ts';
import type { EventEnvelope } from './envelope.ts';

export type TransactionalEffect = (
  client: PoolClient,
  event: EventEnvelope,
  info?: DeliveryInfo,
) => Promise<void>;

/** Applies `effect` once per (consumer, event id). Resolves true when applied now, false for a duplicate. */
export async function applyOnce(
  pool: Pool,
  consumer: string,
  event: EventEnvelope,
  effect: TransactionalEffect,
  info?: DeliveryInfo,
): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const fresh = await client.query(
      'INSERT INTO titan_event_applied (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [consumer, event.id],
    );
    if (fresh.rowCount === 0) return false;
    await effect(client, event, info);
    return true;
  });
}

export interface IdempotentHandlerOptions {
  /** Called for each duplicate absorbed (metrics, tests). */
  onDuplicate?: (event: EventEnvelope) => void;
}

/** A bus handler that applies each event once: `bus.subscribe({ handler: idempotentHandler(pool, 'orders', fx) })`. */
export function idempotentHandler(
  pool: Pool,
  consumer: string,
  effect: TransactionalEffect,
  options: IdempotentHandlerOptions = {},
): EventHandler {
  return async (event, info) => {
    const applied = await applyOnce(pool, consumer, event, effect, info);
    if (!applied) options.onDuplicate?.(event);
  };
}

/**
 * Forgets applied ids older than `olderThanMs`: safe once the bus no longer retains events that old (a
 * redelivery of something older cannot happen). Returns how many were removed.
 */
export async function pruneAppliedEvents(pool: Pool, olderThanMs: number): Promise<number> {
  const r = await pool.query(
    "DELETE FROM titan_event_applied WHERE applied_at < now() - ($1::bigint * interval '1 millisecond')",
    [olderThanMs],
  );
  return r.rowCount ?? 0;
}
