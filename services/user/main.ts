/** The user service process. */
import { createAccessTokenVerifier } from '../auth/index.ts';
import {
  createLogger,
  createMetrics,
  createPool,
  Health,
  Lifecycle,
  serviceListenHost,
} from '../kit/index.ts';
import { createUserApp } from './app.ts';
import { loadUserConfig, piiKeyringFromEnv } from './config.ts';

const log = createLogger({ name: 'user' });
try {
  const config = loadUserConfig();
  const metrics = createMetrics({ process: 'user' });
  const health = new Health();
  const lifecycle = new Lifecycle({ log });
  const pool = createPool(config.TITAN_DATABASE_URL, { name: 'user' });
  lifecycle.onShutdown('postgres', () => pool.end());
  health.addCheck('postgres', () => pool.query('SELECT 1'));
  const verify = createAccessTokenVerifier({
    jwks: new URL(config.TITAN_AUTH_JWKS_URL),
    issuer: config.TITAN_AUTH_ISSUER,
    audience: config.TITAN_AUTH_AUDIENCE,
  });
  const { server } = createUserApp({ keyring: piiKeyringFromEnv(), pool, verify, log, metrics, health });
  lifecycle.onShutdown('http', () => server.close());
  await server.listen(config.TITAN_USER_PORT, serviceListenHost());
} catch (err) {
  log.fatal({ err }, 'user failed to start');
  process.exit(1);
}
