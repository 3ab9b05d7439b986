/** The auth service process. */
import {
  createLogger,
  createMetrics,
  createPool,
  createRedis,
  Health,
  Lifecycle,
  serviceListenHost,
} from '../kit/index.ts';
import { piiKeyringFromEnv } from '../user/index.ts';
import { createAuthApp } from './app.ts';
import { loadAuthConfig } from './config.ts';

const log = createLogger({ name: 'auth' });
try {
  const config = loadAuthConfig();
  const keyring = piiKeyringFromEnv();
  const metrics = createMetrics({ process: 'auth' });
  const health = new Health();
  const lifecycle = new Lifecycle({ log });
  const pool = createPool(config.TITAN_DATABASE_URL, { name: 'auth' });
  lifecycle.onShutdown('postgres', () => pool.end());
  const redis = createRedis(config.TITAN_REDIS_URL);
  lifecycle.onShutdown('redis', async () => {
    await redis.quit();
  });
  health.addCheck('postgres', () => pool.query('SELECT 1')).addCheck('redis', () => redis.ping());
  const { server } = await createAuthApp({ config, keyring, pool, redis, log, metrics, health });
  lifecycle.onShutdown('http', () => server.close());
  await server.listen(config.TITAN_AUTH_PORT, serviceListenHost());
} catch (err) {
  log.fatal({ err }, 'auth failed to start');
  process.exit(1);
}
