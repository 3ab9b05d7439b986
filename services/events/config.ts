/** Settings of the event backbone, validated at start. */
import { fileURLToPath } from 'node:url';
import { type Static, Type } from '@sinclair/typebox';
import { ConfigErrors, loadEnvConfig, Port } from '../kit/index.ts';

const LOCAL_MAP = fileURLToPath(new URL('../../cells/maps/local.json', import.meta.url));

export const EventsEnv = Type.Object({
  /** Which bus: Redis Streams (one machine, the default) or Kafka. */
  TITAN_BUS: Type.Union([Type.Literal('redis'), Type.Literal('kafka')], { default: 'redis' }),
  /** Comma-separated host:port list; required when TITAN_BUS=kafka. */
  TITAN_KAFKA_BROKERS: Type.Optional(Type.String({ pattern: '^[^,\\s]+(,[^,\\s]+)*$' })),
  /** Idempotent Kafka producer: on for a real cluster; the local mock broker refuses it. */
  TITAN_KAFKA_IDEMPOTENT: Type.Boolean({ default: false }),
  /** Create topics through the admin API (real clusters; the local mock broker refuses it). */
  TITAN_KAFKA_CREATE_TOPICS: Type.Boolean({ default: false }),
  TITAN_KAFKA_REPLICATION_FACTOR: Type.Integer({ minimum: 1, maximum: 32, default: 3 }),
  TITAN_KAFKA_MIN_INSYNC_REPLICAS: Type.Integer({ minimum: 1, maximum: 32, default: 2 }),
  /** The Redis that holds the Redis Streams bus (and the default for TITAN_BUS_REDIS_URL). */
  TITAN_REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:16379' }),
  TITAN_BUS_REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  /** Partitions of a new topic: Redis Streams, and Kafka with TITAN_KAFKA_CREATE_TOPICS. */
  TITAN_BUS_PARTITIONS: Type.Integer({ minimum: 1, maximum: 256, default: 4 }),
});

export const RelayEnv = Type.Composite([
  EventsEnv,
  Type.Object({
    TITAN_RELAY_PORT: Port(8105, 'the relay process /health /ready /metrics'),
    TITAN_DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
    TITAN_CELL_MAP: Type.String({ default: LOCAL_MAP }),
    /** Relayed outbox entries older than this are trimmed from the cell streams. */
    TITAN_OUTBOX_RETENTION_MS: Type.Integer({ minimum: 0, default: 3_600_000 }),
    TITAN_OUTBOX_POLL_MS: Type.Integer({ minimum: 5, maximum: 10_000, default: 50 }),
  }),
]);

export type EventsConfig = Static<typeof EventsEnv>;
export type RelayConfig = Static<typeof RelayEnv>;

export function loadEventsConfig(env: NodeJS.ProcessEnv = process.env): Readonly<EventsConfig> {
  const c = loadEnvConfig(EventsEnv, env);
  if (c.TITAN_BUS === 'kafka' && !c.TITAN_KAFKA_BROKERS) {
    return loadEnvConfig(Type.Object({ TITAN_KAFKA_BROKERS: Type.String({ minLength: 1 }) }), env) as never;
  }
  if (c.TITAN_KAFKA_MIN_INSYNC_REPLICAS > c.TITAN_KAFKA_REPLICATION_FACTOR) {
    // acks -1 writes would all fail with NOT_ENOUGH_REPLICAS
    throw ConfigErrors.CONFIG_INVALID(
      `Invalid setting TITAN_KAFKA_MIN_INSYNC_REPLICAS: ${c.TITAN_KAFKA_MIN_INSYNC_REPLICAS} is more than TITAN_KAFKA_REPLICATION_FACTOR (${c.TITAN_KAFKA_REPLICATION_FACTOR})`,
      { problems: ['TITAN_KAFKA_MIN_INSYNC_REPLICAS must not exceed TITAN_KAFKA_REPLICATION_FACTOR'] },
    );
  }
  return c;
}

export function loadRelayConfig(env: NodeJS.ProcessEnv = process.env): Readonly<RelayConfig> {
  loadEventsConfig(env);
  return loadEnvConfig(RelayEnv, env);
}
