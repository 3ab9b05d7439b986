/** The edge's settings, validated at start. */
import { Type } from '@sinclair/typebox';
import { loadEnvConfig, Port } from '../services/kit/index.ts';

export const EdgeEnv = Type.Object({
  TITAN_EDGE_PORT: Port(8080, 'HTTP/WebSocket port of the edge'),
  TITAN_EDGE_HOST: Type.String({ default: '0.0.0.0' }),
  TITAN_REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  TITAN_DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  TITAN_EDGE_MAX_BODY_BYTES: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 64 * 1024 }),
  TITAN_EDGE_TRUST_PROXY: Type.Boolean({ default: false }),
  TITAN_SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000 }),
});

export type EdgeConfig = ReturnType<typeof loadEdgeConfig>;
export const loadEdgeConfig = (env: NodeJS.ProcessEnv = process.env) => loadEnvConfig(EdgeEnv, env);
