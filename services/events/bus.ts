/**
 * The event bus every service talks through, with two implementations behind it (Redis Streams on one
 * machine, Kafka on many) that pass one contract suite (test/contract.ts).
 *
 * Guarantees: publish resolves once the bus has the events durably (acknowledged); events with the same
 * partition key (default: the aggregate id) are delivered in publish order to one consumer of a group at a
 * time; delivery is at least once: a message is committed only after the handler resolved (or after it was
 * dead-lettered), so a consumer that dies or a group that rebalances may see a message again.
 */
import type { EventEnvelope } from './envelope.ts';

export interface DeliveryInfo {
  readonly topic: string;
  readonly group: string;
  readonly key: string;
  readonly partition: number;
  /** 1 for the first try of this delivery, 2 for its first retry, ... */
  readonly attempt: number;
}

export type EventHandler = (event: EventEnvelope, info: DeliveryInfo) => Promise<void> | void;

export interface SubscribeOptions {
  topic: string;
  /** The consumer group: each message is handled by one member of the group. */
  group: string;
  handler: EventHandler;
  /** Tries per message before it goes to `<topic>.dead-letter` with the last error (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles per retry, capped at 5 s (default 100 ms). */
  retryDelayMs?: number;
  /** Check payloads against the catalogue; an invalid one is dead-lettered at once (default true). */
  validate?: boolean;
  /** A group that has never committed starts at the oldest retained message (default true) or the newest. */
  fromBeginning?: boolean;
  /** Publish what cannot be handled to `<topic>.dead-letter` (default true); false just skips it (tools). */
  deadLetter?: boolean;
  /** This member's name in the group (default: host, pid and a random suffix). */
  consumerId?: string;
}

export interface Subscription {
  readonly topic: string;
  readonly group: string;
  readonly consumerId: string;
  /** Stops consuming after the message in hand; its partitions go to the other members. */
  close(): Promise<void>;
}

export interface PublishOptions {
  /** The partition key of each event (default: its aggregate id). */
  key?: (event: EventEnvelope) => string;
}

export interface EventBus {
  readonly kind: 'redis' | 'kafka';
  /** Resolves when the bus acknowledged every event; order per key is the array order. */
  publish(topic: string, events: readonly EventEnvelope[], options?: PublishOptions): Promise<void>;
  /** Resolves once the member has joined its group. */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Closes every subscription and connection. */
  close(): Promise<void>;
}
