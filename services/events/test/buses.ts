/** The two bus implementations with test-friendly timings, and small helpers shared by the events tests. */

import { stackSetting, uniqueId } from '../../kit/testing.ts';
import type { EventBus } from '../bus.ts';
import { createEvent, type EventEnvelope } from '../envelope.ts';
import { KafkaBus } from '../kafka-bus.ts';
import { RedisStreamsBus } from '../redis-streams-bus.ts';

export type BusKind = 'redis' | 'kafka';

export function makeRedisBus(): EventBus {
  return new RedisStreamsBus(stackSetting('TITAN_REDIS_URL'), { heartbeatMs: 150, sessionTimeoutMs: 1500 });
}

export function makeKafkaBus(): EventBus {
  return new KafkaBus({
    brokers: stackSetting('TITAN_KAFKA_BROKERS').split(','),
    clientId: uniqueId('events-test-'),
    sessionTimeoutMs: 6000,
    heartbeatMs: 300,
    rebalanceTimeoutMs: 8000,
    // the mock broker joins a group in ~3 s on a quiet machine; a loaded one can take much longer
    joinTimeoutMs: 90_000,
    maxWaitMs: 300,
  });
}

export const makeBus = (kind: BusKind): EventBus => (kind === 'kafka' ? makeKafkaBus() : makeRedisBus());

/** A valid `reservation.created` event; `seq` is carried as the quantity (seq + 1). */
export function testEvent(
  key: string,
  seq: number,
  extra: Partial<{ qty: number; userId: string }> = {},
): EventEnvelope {
  return createEvent({
    type: 'reservation.created',
    aggregateId: key,
    cell: 0,
    payload: {
      saleId: 'sale',
      reservationId: `${key}-${seq}`,
      userId: extra.userId ?? 'u1',
      qty: extra.qty ?? seq + 1,
      expiresAt: 0,
    },
  });
}

export const seqOf = (e: EventEnvelope): number => (e.payload as { qty: number }).qty - 1;

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
