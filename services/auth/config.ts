/** Settings of the auth service, validated at start. */
import { Type } from '@sinclair/typebox';
import { loadEnvConfig, Port } from '../kit/index.ts';

export const AuthEnv = Type.Object({
  TITAN_AUTH_PORT: Port(8101),
  TITAN_DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  TITAN_REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  TITAN_AUTH_ISSUER: Type.String({ default: 'titan-auth' }),
  TITAN_AUTH_AUDIENCE: Type.String({ default: 'titan' }),
  TITAN_ACCESS_TOKEN_TTL_S: Type.Integer({ minimum: 30, maximum: 3600, default: 900 }),
  TITAN_REFRESH_TOKEN_TTL_S: Type.Integer({ minimum: 300, maximum: 90 * 86400, default: 30 * 86400 }),
  /** scrypt cost as log2(N); 15 = 32 MiB per hash. Raising it rehashes passwords at their next login. */
  /** A rotated signing key is published this long before it signs; keep it above verifiers' JWKS cooldown. */
  TITAN_AUTH_KEY_PROPAGATION_MS: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 60_000 }),
  TITAN_SCRYPT_LOG_N: Type.Integer({ minimum: 10, maximum: 20, default: 15 }),
  TITAN_LOGIN_MAX_FAILURES_PER_ACCOUNT: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  TITAN_LOGIN_MAX_FAILURES_PER_IP: Type.Integer({ minimum: 1, maximum: 100000, default: 50 }),
  TITAN_LOGIN_WINDOW_S: Type.Integer({ minimum: 1, maximum: 86400, default: 900 }),
  TITAN_BOOTSTRAP_ADMIN_EMAIL: Type.String({ default: 'operator@titan.local' }),
  TITAN_BOOTSTRAP_ADMIN_PASSWORD: Type.String({ default: 'titan-operator-demo' }),
});

export type AuthConfig = ReturnType<typeof loadAuthConfig>;
export const loadAuthConfig = (env: NodeJS.ProcessEnv = process.env) => loadEnvConfig(AuthEnv, env);
