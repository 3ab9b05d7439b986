/**
 * The Kafka bus (kafkajs), for many machines. A topic's partition is chosen by kafkajs' default
 * partitioner from the key (murmur2, as the Java client), so one key stays on one partition and one
 * member of a group at a time. Offsets are resolved only after the handler resolved (or the message was
 * dead-lettered) and committed by kafkajs at the end of each batch: a member that dies before the commit
 * leaves the message to the member that gets the partition after the rebalance.
 *
 * Every publish waits for all in-sync replicas (`acks: -1`). The local test broker (librdkafka's mock
 * cluster) auto-creates topics (4 partitions, replication factor min(3, brokers)) and cannot create them
 * through the admin API, so topics are only created here with the `createTopics` option (off by default;
 * for a real cluster: replication factor and `min.insync.replicas` set at creation). The mock also refuses
 * idempotent producers, hence the `idempotent` option (off by default; turn it on against a real cluster).
 */
import { type Admin, Kafka, type KafkaConfig, logLevel, type Producer } from 'kafkajs';
import type { EventBus, PublishOptions, SubscribeOptions, Subscription } from './bus.ts';
import { deadLetterTopic } from './catalogue.ts';
import { defaultConsumerId, deliver } from './delivery.ts';
import { type EventEnvelope, encodeEvent } from './envelope.ts';
import { EventErrors } from './errors.ts';

/** How the bus creates a topic before its first use (real clusters only). */
export interface KafkaTopicSettings {
  partitions: number;
  replicationFactor: number;
  /** `min.insync.replicas`: with `acks: -1`, a write fails rather than land on fewer replicas. */
  minInsyncReplicas: number;
}

export interface KafkaBusOptions {
  brokers: readonly string[];
  clientId?: string;
  /** Idempotent producer (exactly-once per partition on a real cluster; the mock broker refuses it). */
  idempotent?: boolean;
  /** Create each topic through the admin API before its first use (the mock broker refuses it). */
  createTopics?: KafkaTopicSettings;
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
  #admin: Promise<Admin> | undefined;
  readonly #topics = new Map<string, Promise<void>>();
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

  /** With `createTopics`, creates the topic once per bus (an existing topic is left as it is). */
  #ensureTopic(topic: string): Promise<void> {
    const settings = this.#options.createTopics;
    if (!settings) return Promise.resolve();
    let ensured = this.#topics.get(topic);
    if (!ensured) {
      ensured = (async () => {
        this.#admin ??= (async () => {
          const admin = this.#kafka.admin();
          await admin.connect();
          return admin;
        })().catch((err) => {
          this.#admin = undefined;
          throw err;
        });
        const admin = await this.#admin;
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic,
              numPartitions: settings.partitions,
              replicationFactor: settings.replicationFactor,
              configEntries: [{ name: 'min.insync.replicas', value: String(settings.minInsyncReplicas) }],
            },
          ],
        });
      })();
      ensured.catch(() => this.#topics.delete(topic));
      this.#topics.set(topic, ensured);
    }
    return ensured;
  }

  async publish(
    topic: string,
    events: readonly EventEnvelope[],
    options: PublishOptions = {},
  ): Promise<void> {
    if (this.#closed) throw EventErrors.BUS_CLOSED();
    if (events.length === 0) return;
    await this.#ensureTopic(topic);
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
    await this.#ensureTopic(options.topic);
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
    // What the consumer went through while joining, for the error if it never joins.
    const seen: string[] = [];
    consumer.on(consumer.events.CRASH, (e) => seen.push(`crash: ${e.payload.error.message}`));
    consumer.on(consumer.events.REQUEST_TIMEOUT, (e) => seen.push(`request timeout: ${e.payload.apiName}`));
    consumer.on(consumer.events.REBALANCING, () => seen.push('rebalancing'));
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            EventErrors.BUS_TIMEOUT(
              `group ${options.group} not joined in time${seen.length ? ` (${seen.slice(-5).join('; ')})` : ''}`,
            ),
          ),
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
    const admin = await this.#admin?.catch(() => undefined);
    await admin?.disconnect();
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
