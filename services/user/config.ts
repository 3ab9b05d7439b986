/** Settings of the user service, and the personal-data keyring both identity services read. */
import { Type } from '@sinclair/typebox';
import { loadEnvConfig, Port } from '../kit/index.ts';
import { type PiiKeyring, parseKeyring } from './domain/pii.ts';

export const PiiEnv = Type.Object({
  TITAN_PII_KEYS: Type.String({ minLength: 1, description: 'kid:base64(32 bytes)[,kid:...]' }),
  TITAN_PII_ACTIVE_KEY: Type.String({ minLength: 1 }),
  TITAN_BLIND_INDEX_KEY: Type.String({ minLength: 40, description: 'base64 of >= 32 bytes' }),
});

export function piiKeyringFromEnv(env: NodeJS.ProcessEnv = process.env): PiiKeyring {
  const c = loadEnvConfig(PiiEnv, env);
  return parseKeyring(c.TITAN_PII_KEYS, c.TITAN_PII_ACTIVE_KEY, c.TITAN_BLIND_INDEX_KEY);
}

export const UserEnv = Type.Object({
  TITAN_USER_PORT: Port(8102),
  TITAN_DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  TITAN_AUTH_JWKS_URL: Type.String({ default: 'http://127.0.0.1:8101/v1/auth/jwks' }),
  TITAN_AUTH_ISSUER: Type.String({ default: 'titan-auth' }),
  TITAN_AUTH_AUDIENCE: Type.String({ default: 'titan' }),
});

export const loadUserConfig = (env: NodeJS.ProcessEnv = process.env) => loadEnvConfig(UserEnv, env);
