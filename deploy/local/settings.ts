/** Where the local stack lives and which ports it uses, from the environment. */
import { resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { loadEnvConfig, Port } from '../../services/kit/index.ts';
import { MAX_CLUSTER_BASE_PORT } from './redis-cluster.ts';

/**
 * `single`: one Redis serves everything. `cluster`: the same single Redis (event bus, auth rate limits, the
 * default cell map) plus a 3-master Redis Cluster for cell maps whose shard names it
 * (`cells/maps/local-cluster.json`).
 */
export type RedisMode = 'single' | 'cluster';

export interface StackSettings {
  /** Absolute data directory; everything the stack writes is under it. */
  dataDir: string;
  redisPort: number;
  pgPort: number;
  /** Start the Kafka-protocol broker (librdkafka mock cluster). */
  kafka: boolean;
  kafkaBrokers: number;
  /** A label for messages ("dev", "test"). */
  label: string;
  /**
   * Redis AOF fsync policy (default `everysec`): measured by `npm run chaos`, a kill -9 of Redis loses no
   * acknowledged reservation under either policy (the write reaches the kernel before the reply), and
   * `always` costs about a third of purchase throughput; it only adds safety against a machine crash.
   */
  redisAppendFsync?: 'everysec' | 'always';
  /** Also run a Redis Cluster (default `single`: no cluster). */
  redisMode?: RedisMode;
  /** The cluster's first port; its six nodes use this and the next five, and each one + 10000 for the bus. */
  redisClusterPort?: number;
  /** The variable that sets `redisClusterPort`, named when one of its ports is taken. */
  redisClusterPortSetting?: string;
}

const Mode = Type.Union([Type.Literal('single'), Type.Literal('cluster')], { default: 'single' });
const ClusterPort = (defaultPort: number) =>
  Type.Integer({ minimum: 1024, maximum: MAX_CLUSTER_BASE_PORT, default: defaultPort });

const StackEnv = Type.Object({
  TITAN_DATA_DIR: Type.String({ default: '.titan', minLength: 1 }),
  TITAN_REDIS_PORT: Port(16379),
  TITAN_PG_PORT: Port(15432),
  TITAN_BUS: Type.Union([Type.Literal('redis'), Type.Literal('kafka')], { default: 'redis' }),
  TITAN_KAFKA_MOCK: Type.Optional(Type.Boolean()),
  TITAN_KAFKA_MOCK_BROKERS: Type.Integer({ minimum: 1, maximum: 9, default: 3 }),
  TITAN_REDIS_APPENDFSYNC: Type.Union([Type.Literal('everysec'), Type.Literal('always')], {
    default: 'everysec',
  }),
  TITAN_REDIS_MODE: Mode,
  TITAN_REDIS_CLUSTER_PORT: ClusterPort(17000),
});

/** The dev stack's settings (`npm start`, `npm run stack`). */
export function devStackSettings(env: NodeJS.ProcessEnv = process.env): StackSettings {
  const c = loadEnvConfig(StackEnv, env);
  return {
    dataDir: resolve(c.TITAN_DATA_DIR),
    redisPort: c.TITAN_REDIS_PORT,
    pgPort: c.TITAN_PG_PORT,
    kafka: c.TITAN_KAFKA_MOCK ?? c.TITAN_BUS === 'kafka',
    kafkaBrokers: c.TITAN_KAFKA_MOCK_BROKERS,
    label: 'dev',
    redisAppendFsync: c.TITAN_REDIS_APPENDFSYNC,
    redisMode: c.TITAN_REDIS_MODE,
    redisClusterPort: c.TITAN_REDIS_CLUSTER_PORT,
    redisClusterPortSetting: 'TITAN_REDIS_CLUSTER_PORT',
  };
}

const TestStackEnv = Type.Object({
  TITAN_TEST_DATA_DIR: Type.String({ default: '.titan-test', minLength: 1 }),
  TITAN_TEST_REDIS_PORT: Port(26379),
  TITAN_TEST_PG_PORT: Port(25432),
  TITAN_TEST_REDIS_MODE: Mode,
  // 28000-28005 (bus 38000-38005): clear of the dev cluster's 17000-17005 and its bus ports 27000-27005
  TITAN_TEST_REDIS_CLUSTER_PORT: ClusterPort(28000),
});

/** The test stack's settings (`npm test`): its own variables, so a dev stack's never leak into tests. */
export function testStackSettings(env: NodeJS.ProcessEnv = process.env): StackSettings {
  const c = loadEnvConfig(TestStackEnv, env);
  return {
    dataDir: resolve(c.TITAN_TEST_DATA_DIR),
    redisPort: c.TITAN_TEST_REDIS_PORT,
    pgPort: c.TITAN_TEST_PG_PORT,
    kafka: true,
    kafkaBrokers: 3,
    label: 'test',
    redisMode: c.TITAN_TEST_REDIS_MODE,
    redisClusterPort: c.TITAN_TEST_REDIS_CLUSTER_PORT,
    redisClusterPortSetting: 'TITAN_TEST_REDIS_CLUSTER_PORT',
  };
}
