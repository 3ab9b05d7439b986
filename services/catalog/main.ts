/** The catalog service process. */
import { createAccessTokenVerifier } from '../auth/index.ts';
import {
  createLogger,
  createMetrics,
  createPool,
  Health,
  Lifecycle,
  serviceListenHost,
} from '../kit/index.ts';
import { createCatalogApp } from './app.ts';
import { loadCatalogConfig } from './config.ts';

const log = createLogger({ name: 'catalog' });
try {
  const config = loadCatalogConfig();
  const metrics = createMetrics({ process: 'catalog' });
  const health = new Health();
  const lifecycle = new Lifecycle({ log });
  const pool = createPool(config.TITAN_DATABASE_URL, { name: 'catalog' });
  lifecycle.onShutdown('postgres', () => pool.end());
  health.addCheck('postgres', () => pool.query('SELECT 1'));
  const verify = createAccessTokenVerifier({
    jwks: new URL(config.TITAN_AUTH_JWKS_URL),
    issuer: config.TITAN_AUTH_ISSUER,
    audience: config.TITAN_AUTH_AUDIENCE,
  });
  const { server } = createCatalogApp({ pool, verify, log, metrics, health });
  lifecycle.onShutdown('http', () => server.close());
  await server.listen(config.TITAN_CATALOG_PORT, serviceListenHost());
} catch (err) {
  log.fatal({ err }, 'catalog failed to start');
  process.exit(1);
}
