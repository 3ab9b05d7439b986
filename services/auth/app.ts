/** Builds the auth service from its settings and connections; used by main.ts and by tests. */
import type { Health, HttpServerOptions, Logger, Metrics, Pool, Redis } from '../kit/index.ts';
import { HttpServer } from '../kit/index.ts';
import { PiiCipher, type PiiKeyring, UserStore } from '../user/index.ts';
import type { AuthConfig } from './config.ts';
import { registerAuthRoutes } from './routes.ts';
import { AuthService } from './service.ts';
import { SigningKeys } from './signing-keys.ts';
import { LoginThrottle } from './throttle.ts';
import { bearerToken, createAccessTokenVerifier } from './verifier.ts';

export interface AuthAppDeps {
  config: AuthConfig;
  keyring: PiiKeyring;
  pool: Pool;
  redis: Redis;
  log: Logger;
  metrics: Metrics;
  health: Health;
  now?: () => number;
  server?: Partial<HttpServerOptions>;
}

export async function createAuthApp(deps: AuthAppDeps) {
  const { config } = deps;
  const cipher = new PiiCipher(deps.keyring);
  const users = new UserStore(deps.pool, cipher);
  const reloadMs = 30_000;
  const keys = new SigningKeys(
    deps.pool,
    cipher,
    {
      propagationMs: config.TITAN_AUTH_KEY_PROPAGATION_MS,
      overlapMs: config.TITAN_ACCESS_TOKEN_TTL_S * 1000 + reloadMs + 60_000,
      reloadMs,
    },
    deps.now,
  );
  await keys.ensureKey();
  const throttle = new LoginThrottle(deps.redis, {
    perAccount: config.TITAN_LOGIN_MAX_FAILURES_PER_ACCOUNT,
    perIp: config.TITAN_LOGIN_MAX_FAILURES_PER_IP,
    windowMs: config.TITAN_LOGIN_WINDOW_S * 1000,
  });
  const auth = new AuthService(
    deps.pool,
    users,
    cipher,
    keys,
    throttle,
    {
      issuer: config.TITAN_AUTH_ISSUER,
      audience: config.TITAN_AUTH_AUDIENCE,
      accessTokenTtlSeconds: config.TITAN_ACCESS_TOKEN_TTL_S,
      refreshTokenTtlSeconds: config.TITAN_REFRESH_TOKEN_TTL_S,
      scrypt: { logN: config.TITAN_SCRYPT_LOG_N, r: 8, p: 1 },
    },
    deps.now,
  );
  const verify = createAccessTokenVerifier({
    jwks: () => keys.jwks(),
    cooldownMs: 0,
    issuer: config.TITAN_AUTH_ISSUER,
    audience: config.TITAN_AUTH_AUDIENCE,
  });
  const server = new HttpServer({
    name: 'auth',
    log: deps.log,
    metrics: deps.metrics,
    health: deps.health,
    ...deps.server,
  });
  registerAuthRoutes(server, {
    auth,
    keys,
    authenticate: (ctx) => verify(bearerToken(ctx.headers.authorization)),
  });
  return { server, auth, keys, users, verify };
}

/** Creates the operator account of a fresh install when it does not exist yet. */
export async function ensureBootstrapAdmin(
  auth: AuthService,
  users: UserStore,
  email: string,
  password: string,
) {
  const existing = await users.findIdByEmail(email);
  if (existing) return { userId: existing.id, created: false };
  const userId = await auth.register(email, password, ['buyer', 'operator', 'admin']);
  return { userId, created: true };
}
