/** Builds the catalog service from its connections; used by main.ts and by tests. */
import { type AccessTokenVerifier, bearerToken } from '../auth/index.ts';
import type { Health, HttpServerOptions, Logger, Metrics, Pool } from '../kit/index.ts';
import { HttpServer } from '../kit/index.ts';
import { registerCatalogRoutes } from './routes.ts';
import { CatalogStore } from './store.ts';

export interface CatalogAppDeps {
  pool: Pool;
  verify: AccessTokenVerifier;
  log: Logger;
  metrics: Metrics;
  health: Health;
  server?: Partial<HttpServerOptions>;
}

export function createCatalogApp(deps: CatalogAppDeps) {
  const products = new CatalogStore(deps.pool);
  const server = new HttpServer({
    name: 'catalog',
    log: deps.log,
    metrics: deps.metrics,
    health: deps.health,
    ...deps.server,
  });
  registerCatalogRoutes(server, {
    products,
    authenticate: (ctx) => deps.verify(bearerToken(ctx.headers.authorization)),
  });
  return { server, products };
}
