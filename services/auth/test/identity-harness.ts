// Starts the auth and user services in-process against a private test database and the test
// stack's Redis: the user service verifies tokens through the auth service's JWKS URL, as in production.
import { randomBytes } from 'node:crypto';
import { createLogger, createMetrics, createRedis, Health, migrate } from '../../kit/index.ts';
import { createTestDatabase, stackSetting, uniqueId } from '../../kit/testing.ts';
import { createUserApp, parseKeyring, USER_MIGRATIONS } from '../../user/index.ts';
import { createAuthApp } from '../app.ts';
import { loadAuthConfig } from '../config.ts';
import { AUTH_MIGRATIONS } from '../index.ts';
import { createAccessTokenVerifier } from '../verifier.ts';

export async function startIdentity(overrides: Record<string, string> = {}) {
  const db = await createTestDatabase();
  await migrate(db.pool, 'user', USER_MIGRATIONS);
  await migrate(db.pool, 'auth', AUTH_MIGRATIONS);
  const redis = createRedis(stackSetting('TITAN_REDIS_URL'));
  const keyring = parseKeyring(
    `k1:${randomBytes(32).toString('base64')}`,
    'k1',
    randomBytes(32).toString('base64'),
  );
  const config = loadAuthConfig({
    TITAN_DATABASE_URL: db.url,
    TITAN_REDIS_URL: stackSetting('TITAN_REDIS_URL'),
    TITAN_SCRYPT_LOG_N: '12',
    TITAN_AUTH_KEY_PROPAGATION_MS: '400',
    ...overrides,
  });
  const log = createLogger({ name: 'identity-test', level: 'silent' });
  const auth = await createAuthApp({
    config,
    keyring,
    pool: db.pool,
    redis,
    log,
    metrics: createMetrics({ defaultMetrics: false }),
    health: new Health(),
  });
  const authUrl = `http://127.0.0.1:${await auth.server.listen(0, '127.0.0.1')}`;
  const verify = createAccessTokenVerifier({
    jwks: new URL(`${authUrl}/v1/auth/jwks`),
    issuer: config.TITAN_AUTH_ISSUER,
    audience: config.TITAN_AUTH_AUDIENCE,
    cooldownMs: 100,
  });
  const user = createUserApp({
    keyring,
    pool: db.pool,
    verify,
    log,
    metrics: createMetrics({ defaultMetrics: false }),
    health: new Health(),
  });
  const userUrl = `http://127.0.0.1:${await user.server.listen(0, '127.0.0.1')}`;

  const call = async (base: string, method: string, path: string, body?: unknown, token?: string) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
  };
  return {
    authUrl,
    userUrl,
    db,
    redis,
    keyring,
    config,
    auth,
    user,
    /** A fresh email per call, so tests never collide. */
    email: () => `${uniqueId('u')}@example.com`,
    authCall: (method: string, path: string, body?: unknown, token?: string) =>
      call(authUrl, method, path, body, token),
    userCall: (method: string, path: string, body?: unknown, token?: string) =>
      call(userUrl, method, path, body, token),
    async stop() {
      await auth.server.close();
      await user.server.close();
      redis.disconnect();
      await db.drop();
    },
  };
}

export type Identity = Awaited<ReturnType<typeof startIdentity>>;
