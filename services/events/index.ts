/** The event backbone's public face: the bus, envelopes, the catalogue, relays and idempotent consumers. */
import { fileURLToPath } from 'node:url';

export type {
  DeliveryInfo,
  EventBus,
  EventHandler,
  PublishOptions,
  SubscribeOptions,
  Subscription,
} from './bus.ts';
export {
  type CartHold,
  type CatalogueEntry,
  DEAD_LETTER_TYPE,
  type DeadLetter,
  deadLetterTopic,
  EVENT_CATALOGUE,
  type ReservationClosed,
  type ReservationCreated,
  type StockAdjusted,
  topicOf,
  type UserRegistered,
  validateEvent,
} from './catalogue.ts';
export {
  CellOutboxRelay,
  type CellOutboxRelayOptions,
  OUTBOX_DEAD_LETTER_TOPIC,
  type RelayLag,
  relayCursorKey,
} from './cell-outbox-relay.ts';
export { type EventsConfig, loadEventsConfig, loadRelayConfig, type RelayConfig } from './config.ts';
export { type CreateBusOverrides, createEventBus } from './create-bus.ts';
export {
  createEvent,
  decodeEvent,
  type EventEnvelope,
  encodeEvent,
  eventIdTime,
  eventToJson,
  type NewEvent,
  newEventId,
  outboxEventId,
} from './envelope.ts';
export { EventErrors } from './errors.ts';
export {
  applyOnce,
  idempotentHandler,
  pruneAppliedEvents,
  type TransactionalEffect,
} from './idempotent-consumer.ts';
export { KafkaBus, type KafkaBusOptions } from './kafka-bus.ts';
export { decodeOutboxEntry, OUTBOX_EVENT_TYPES, publicReservationId } from './outbox-records.ts';
export { OUTBOX_SHARDS, PgOutboxRelay, type PgOutboxRelayOptions, writeOutbox } from './pg-outbox.ts';
export { partitionOf, RedisStreamsBus, type RedisStreamsBusOptions } from './redis-streams-bus.ts';

export const EVENTS_MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));
