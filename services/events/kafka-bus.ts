/**
 * The Kafka bus (kafkajs), for many machines. A topic's partition is chosen by kafkajs' default
 * partitioner from the key (murmur2, as the Java client), so one key stays on one partition and one
 * member of a group at a time. Offsets are resolved only after the handler resolved (or the message was
 * dead-lettered) and committed by kafkajs at the end of each batch: a member that dies before the commit
 * leaves the message to the member that gets the partition after the rebalance.
 *
 * The local test broker (librdkafka's mock cluster) auto-creates topics with 4 partitions and cannot create
 * them through the admin API, so nothing here calls createTopics. It refuses idempotent producers, hence the
 * `idempotent` option (off by default; turn it on against a real cluster).
 */
import { Kafka, type KafkaConfig, logLevel, type Producer } from 'kafkajs';
import type { EventBus, PublishOptions, SubscribeOptions, Subscription } from './bus.ts';
import { deadLetterTopic } from './catalogue.ts';
import { defaultConsumerId, deliver } from './delivery.ts';
import { type EventEnvelope, encodeEvent } from './envelope.ts';
import { EventErrors } from './errors.ts';

export interface KafkaBusOptions {
  brokers: readonly string[];
  clientId?: string;
  /** Idempotent producer (exactly-once per partition on a real cluster; the mock broker refuses it). */
  idempotent?: boolean;
  sessionTimeoutMs?: number;
  heartbeatMs?: number;
  rebalanceTimeoutMs?: number;
  /** Longest fetch wait; heartbeats (and so rebalances) wait for it too (default 1000 ms). */
  maxWaitMs?: number;
  /** How long `subscribe` waits for the member to join its group (default 60 s). */
  joinTimeoutMs?: number;
  kafka?: Partial<KafkaConfig>;
}

export class KafkaBus implements EventBus {
  readonly kind = 'kafka' as const;
  readonly #kafka: Kafka;
  readonly #options: KafkaBusOptions;
  readonly #subs = new Set<KafkaSubscription>();
  #producer: Promise<Producer> | undefined;
  #closed = false;

  constructor(options: KafkaBusOptions) {
    this.#options = options;
    this.#kafka = new Kafka({
      clientId: options.clientId ?? 'titan',
      brokers: [...options.brokers],
      logLevel: logLevel.NOTHING,
      ...options.kafka,
    });
  }

  get kafka(): Kafka {
    return this.#kafka;
  }

  #connectedProducer(): Promise<Producer> {
    this.#producer ??= (async () => {
      const idempotent = this.#options.idempotent === true;
      // One request in flight keeps per-key order through retries without the idempotent producer.
      const producer = this.#kafka.producer({ idempotent, maxInFlightRequests: idempotent ? 5 : 1 });
      await producer.connect();
      return producer;
    })().catch((err) => {
      this.#producer = undefined;
      throw err;
    });
    return this.#producer;
  }

  async publish(
    topic: string,
    events: readonly EventEnvelope[],
    options: PublishOptions = {},
  ): Promise<void> {
    if (this.#closed) throw EventErrors.BUS_CLOSED();
    if (events.length === 0) return;
    const producer = await this.#connectedProducer();
    await producer.send({
      topic,
      acks: -1,
      messages: events.map((event) => ({
        key: options.key ? options.key(event) : event.aggregateId,
        value: encodeEvent(event),
        headers: { 'titan-type': event.type, 'titan-id': event.id },
      })),
    });
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw EventErrors.BUS_CLOSED();
    const o = this.#options;
    const consumer = this.#kafka.consumer({
      groupId: options.group,
      sessionTimeout: o.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: o.heartbeatMs ?? 3000,
      rebalanceTimeout: o.rebalanceTimeoutMs ?? 60_000,
      maxWaitTimeInMs: o.maxWaitMs ?? 1000,
      allowAutoTopicCreation: true,
    });
    const consumerId = options.consumerId ?? defaultConsumerId();
    const sub = new KafkaSubscription(options.topic, options.group, consumerId, async () => {
      await consumer.disconnect();
      this.#subs.delete(sub);
    });
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(EventErrors.BUS_TIMEOUT(`group ${options.group} not joined in time`)),
        o.joinTimeoutMs ?? 60_000,
      );
      consumer.on(consumer.events.GROUP_JOIN, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: options.fromBeginning !== false });
    await consumer.run({
      autoCommit: true,
      eachMessage: async ({ topic, partition, message, heartbeat }) => {
        await deliver(
          {
            raw: message.value ?? Buffer.alloc(0),
            topic,
            group: options.group,
            key: message.key?.toString() ?? '',
            partition,
          },
          {
            options,
            stopping: () => sub.closing,
            between: heartbeat,
            deadLetter: (t, event, key) => this.publish(deadLetterTopic(t), [event], { key: () => key }),
          },
        );
      },
    });
    this.#subs.add(sub);
    try {
      await joined;
    } catch (err) {
      await sub.close();
      throw err;
    }
    return sub;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.close()));
    const producer = await this.#producer?.catch(() => undefined);
    await producer?.disconnect();
  }
}

class KafkaSubscription implements Subscription {
  closing = false;
  #closed: Promise<void> | undefined;

  constructor(
    readonly topic: string,
    readonly group: string,
    readonly consumerId: string,
    private readonly disconnect: () => Promise<void>,
  ) {}

  close(): Promise<void> {
    this.closing = true;
    this.#closed ??= this.disconnect();
    return this.#closed;
  }
}
