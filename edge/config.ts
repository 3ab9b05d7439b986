/** The edge's settings, validated at start. */
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { loadEnvConfig, Port } from '../services/kit/index.ts';

const LOCAL_MAP = fileURLToPath(new URL('../cells/maps/local.json', import.meta.url));

export const EdgeEnv = Type.Object({
  TITAN_EDGE_PORT: Port(8080, 'HTTP/WebSocket port of the edge'),
  TITAN_EDGE_HOST: Type.String({ default: '0.0.0.0' }),
  /** Edge processes sharing the port (the kernel spreads connections across them). */
  TITAN_EDGE_PROCESSES: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  TITAN_CELL_MAP: Type.String({ default: LOCAL_MAP }),
  TITAN_AUTH_URL: Type.String({ default: 'http://127.0.0.1:8101' }),
  TITAN_USER_URL: Type.String({ default: 'http://127.0.0.1:8102' }),
  TITAN_CATALOG_URL: Type.String({ default: 'http://127.0.0.1:8103' }),
  TITAN_FLASH_SALE_URL: Type.String({ default: 'http://127.0.0.1:8104' }),
  /** Signs proof-of-work challenges; every edge process of a deployment needs the same value. */
  TITAN_POW_SECRET: Type.String({ minLength: 16 }),
  TITAN_AUTH_JWKS_URL: Type.String({ default: 'http://127.0.0.1:8101/v1/auth/jwks' }),
  TITAN_AUTH_ISSUER: Type.String({ default: 'titan-auth' }),
  TITAN_AUTH_AUDIENCE: Type.String({ default: 'titan' }),
  TITAN_EDGE_MAX_BODY_BYTES: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 64 * 1024 }),
  TITAN_EDGE_BODY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
  TITAN_EDGE_TRUST_PROXY: Type.Boolean({ default: false }),
  /** Per client IP, in edge memory: sustained requests per second and burst. */
  TITAN_EDGE_IP_RATE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 500 }),
  TITAN_EDGE_IP_BURST: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
  /** Per authenticated user, in edge memory. */
  TITAN_EDGE_USER_RATE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 20 }),
  TITAN_EDGE_USER_BURST: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 40 }),
  /** Login/register attempts per client IP per minute, shared by every edge process (Redis). */
  TITAN_EDGE_AUTH_ATTEMPTS_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 100_000, default: 60 }),
  TITAN_WS_MESSAGES_PER_SECOND: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),
  TITAN_WS_IDLE_TIMEOUT_S: Type.Integer({ minimum: 8, maximum: 3600, default: 60 }),
  /** A live slot move waits this long between freezing the slots and copying: map watch (1 s) + engine task timeout (5 s) + margin. */
  TITAN_SLOT_MOVE_DRAIN_MS: Type.Integer({ minimum: 0, maximum: 120_000, default: 6_500 }),
  TITAN_SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 15_000 }),
  /** Redis Cluster shards: replicas that must confirm each purchase batch before anyone is told "reserved" (0: off). */
  TITAN_ENGINE_WAIT_REPLICAS: Type.Integer({ minimum: 0, maximum: 5, default: 1 }),
  TITAN_ENGINE_WAIT_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
  /** Chaos runs only: SIGUSR2 kills one flash-sale worker thread (a crash in the middle of its batches). */
  TITAN_CHAOS_HOOKS: Type.Boolean({ default: false }),
});

export type EdgeConfig = ReturnType<typeof loadEdgeConfig>;
export const loadEdgeConfig = (env: NodeJS.ProcessEnv = process.env) => loadEnvConfig(EdgeEnv, env);
