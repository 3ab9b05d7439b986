/** Builds the user service from its settings and connections; used by main.ts and by tests. */
import { type AccessTokenVerifier, AuthStore, bearerToken } from '../auth/index.ts';
import type { Health, HttpServerOptions, Logger, Metrics, Pool } from '../kit/index.ts';
import { HttpServer, withTransaction } from '../kit/index.ts';
import { PiiCipher, type PiiKeyring } from './domain/pii.ts';
import { registerUserRoutes } from './routes.ts';
import { UserStore } from './store.ts';

export interface UserAppDeps {
  keyring: PiiKeyring;
  pool: Pool;
  verify: AccessTokenVerifier;
  log: Logger;
  metrics: Metrics;
  health: Health;
  server?: Partial<HttpServerOptions>;
}

export function createUserApp(deps: UserAppDeps) {
  const users = new UserStore(deps.pool, new PiiCipher(deps.keyring));
  const credentials = new AuthStore(deps.pool);
  const server = new HttpServer({
    name: 'user',
    log: deps.log,
    metrics: deps.metrics,
    health: deps.health,
    ...deps.server,
  });
  registerUserRoutes(server, {
    users,
    authenticate: (ctx) => deps.verify(bearerToken(ctx.headers.authorization)),
    // Personal data and credentials go together, in one transaction.
    erase: (userId) =>
      withTransaction(deps.pool, async (db) => {
        await credentials.forget(db, userId);
        await users.erase(userId, db);
      }),
  });
  return { server, users };
}
