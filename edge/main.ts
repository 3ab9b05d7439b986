/**
 * The edge process: the only thing clients talk to. This is its skeleton (health, readiness on its
 * dependencies, metrics, graceful shutdown); routes, auth, rate limits, cell routing and WebSockets
 * are added by the edge's own modules as they land.
 */
import { createLogger, createMetrics, createPool, createRedis, Health, HttpServer, Lifecycle } from '../services/kit/index.ts';
import { loadEdgeConfig } from './config.ts';

const log = createLogger({ name: 'edge' });
try {
  const config = loadEdgeConfig();
  const metrics = createMetrics({ process: 'edge' });
  const health = new Health();
  const lifecycle = new Lifecycle({ log, timeoutMs: config.TITAN_SHUTDOWN_TIMEOUT_MS });

  const redis = createRedis(config.TITAN_REDIS_URL);
  lifecycle.onShutdown('redis', async () => {
    await redis.quit();
  });
  const db = createPool(config.TITAN_DATABASE_URL, { max: 4, name: 'edge' });
  lifecycle.onShutdown('postgres', () => db.end());
  health.addCheck('redis', () => redis.ping()).addCheck('postgres', () => db.query('SELECT 1'));

  const server = new HttpServer({
    name: 'edge',
    log,
    metrics,
    health,
    maxBodyBytes: config.TITAN_EDGE_MAX_BODY_BYTES,
    trustProxy: config.TITAN_EDGE_TRUST_PROXY,
  });
  lifecycle.onShutdown('http', () => server.close());
  await server.listen(config.TITAN_EDGE_PORT, config.TITAN_EDGE_HOST);
} catch (err) {
  log.fatal({ err }, 'edge failed to start');
  process.exit(1);
}
