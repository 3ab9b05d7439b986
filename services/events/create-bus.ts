/** Builds the configured bus (`TITAN_BUS`): Redis Streams by default, Kafka with `TITAN_BUS=kafka`. */
import type { EventBus } from './bus.ts';
import { type EventsConfig, loadEventsConfig } from './config.ts';
import { KafkaBus, type KafkaBusOptions } from './kafka-bus.ts';
import { RedisStreamsBus, type RedisStreamsBusOptions } from './redis-streams-bus.ts';

export interface CreateBusOverrides {
  redis?: RedisStreamsBusOptions;
  kafka?: Partial<KafkaBusOptions>;
  clientId?: string;
}

export function createEventBus(
  config: Readonly<EventsConfig> = loadEventsConfig(),
  overrides: CreateBusOverrides = {},
): EventBus {
  if (config.TITAN_BUS === 'kafka') {
    return new KafkaBus({
      brokers: (config.TITAN_KAFKA_BROKERS ?? '').split(','),
      idempotent: config.TITAN_KAFKA_IDEMPOTENT,
      ...(config.TITAN_KAFKA_CREATE_TOPICS
        ? {
            createTopics: {
              partitions: config.TITAN_BUS_PARTITIONS,
              replicationFactor: config.TITAN_KAFKA_REPLICATION_FACTOR,
              minInsyncReplicas: config.TITAN_KAFKA_MIN_INSYNC_REPLICAS,
            },
          }
        : {}),
      clientId: overrides.clientId ?? 'titan',
      ...overrides.kafka,
    });
  }
  return new RedisStreamsBus(config.TITAN_BUS_REDIS_URL ?? config.TITAN_REDIS_URL, {
    partitions: config.TITAN_BUS_PARTITIONS,
    ...overrides.redis,
  });
}
