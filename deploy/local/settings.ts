/** Where the local stack lives and which ports it uses, from the environment. */
import { resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { loadEnvConfig, Port } from '../../services/kit/index.ts';

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
}

const StackEnv = Type.Object({
  TITAN_DATA_DIR: Type.String({ default: '.titan', minLength: 1 }),
  TITAN_REDIS_PORT: Port(16379),
  TITAN_PG_PORT: Port(15432),
  TITAN_BUS: Type.Union([Type.Literal('redis'), Type.Literal('kafka')], { default: 'redis' }),
  TITAN_KAFKA_MOCK: Type.Optional(Type.Boolean()),
  TITAN_KAFKA_MOCK_BROKERS: Type.Integer({ minimum: 1, maximum: 9, default: 3 }),
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
  };
}

const TestStackEnv = Type.Object({
  TITAN_TEST_DATA_DIR: Type.String({ default: '.titan-test', minLength: 1 }),
  TITAN_TEST_REDIS_PORT: Port(26379),
  TITAN_TEST_PG_PORT: Port(25432),
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
  };
}
