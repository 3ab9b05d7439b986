/**
 * What both buses do with one consumed message: decode, validate against the catalogue, run the handler
 * with retries (exponential backoff), and dead-letter what cannot be handled, keeping the error. Decoding
 * and validation failures are dead-lettered at once: retrying cannot fix them.
 */

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isTitanError } from '../kit/index.ts';
import type { DeliveryInfo, EventHandler, SubscribeOptions } from './bus.ts';
import { DEAD_LETTER_TYPE, type DeadLetter, validateEvent } from './catalogue.ts';
import { createEvent, decodeEvent, type EventEnvelope } from './envelope.ts';
import { EventErrors } from './errors.ts';

export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 5000;

export interface Delivery {
  raw: Uint8Array;
  topic: string;
  group: string;
  key: string;
  partition: number;
}

export interface DeliveryContext {
  options: SubscribeOptions;
  /** Publishes a dead-letter event for the message (must resolve only when the bus has it). */
  deadLetter(topic: string, event: EventEnvelope<DeadLetter>, key: string): Promise<void>;
  /** True once the subscription is closing: retries stop and the message stays uncommitted. */
  stopping(): boolean;
  /** Called between retries (Kafka heartbeats there). */
  between?(): Promise<void>;
}

export const defaultConsumerId = (): string =>
  `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Handles one message to completion. Resolves when it may be committed (handled or dead-lettered); rejects
 * when it must stay uncommitted (the subscription is closing mid-retry, or the dead letter could not be
 * published), so it is delivered again.
 */
export async function deliver(d: Delivery, context: DeliveryContext): Promise<'handled' | 'dead-lettered'> {
  const { options } = context;
  const ctx: DeliveryContext =
    options.deadLetter === false ? { ...context, deadLetter: () => Promise.resolve() } : context;
  let event: EventEnvelope | undefined;
  try {
    event = decodeEvent(d.raw);
    if (options.validate !== false) validateEvent(event);
  } catch (err) {
    await ctx.deadLetter(d.topic, deadLetterEvent(d, event, err, 0), d.key);
    return 'dead-lettered';
  }
  const handler: EventHandler = options.handler;
  const max = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  let delay = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  for (let attempt = 1; ; attempt++) {
    const info: DeliveryInfo = {
      topic: d.topic,
      group: d.group,
      key: d.key,
      partition: d.partition,
      attempt,
    };
    try {
      await handler(event, info);
      return 'handled';
    } catch (err) {
      if (attempt >= max) {
        await ctx.deadLetter(d.topic, deadLetterEvent(d, event, err, attempt), d.key);
        return 'dead-lettered';
      }
    }
    if (ctx.stopping()) throw EventErrors.BUS_CLOSED('subscription closing: message left for redelivery');
    await sleep(delay);
    delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
    await ctx.between?.();
    if (ctx.stopping()) throw EventErrors.BUS_CLOSED('subscription closing: message left for redelivery');
  }
}

function deadLetterEvent(
  d: Delivery,
  event: EventEnvelope | undefined,
  err: unknown,
  attempts: number,
): EventEnvelope<DeadLetter> {
  const e = err as Error;
  const field = isTitanError(err) && typeof err.details?.field === 'string' ? err.details.field : undefined;
  const payload: DeadLetter = {
    topic: d.topic,
    group: d.group,
    key: d.key,
    attempts,
    error: {
      code: isTitanError(err) ? err.code : (e?.name ?? 'Error'),
      message: String(e?.message ?? err).slice(0, 2000),
      ...(field ? { field } : {}),
    },
    original: Buffer.from(d.raw).toString('base64'),
  };
  if (event) {
    payload.originalId = event.id;
    payload.originalType = event.type;
  }
  return createEvent({
    type: DEAD_LETTER_TYPE,
    aggregateId: event?.aggregateId ?? (d.key || 'unknown'),
    cell: event?.cell ?? null,
    payload,
    ...(event?.traceparent ? { traceparent: event.traceparent } : {}),
  });
}
