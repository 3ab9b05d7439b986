/** The flash-sale control-plane process. */
import { CellRouter, loadCellMap } from '../../cells/index.ts';
import { createAccessTokenVerifier } from '../auth/index.ts';
import {
  createLogger,
  createMetrics,
  createPool,
  Health,
  Lifecycle,
  serviceListenHost,
} from '../kit/index.ts';
import { createFlashSaleApp } from './app.ts';
import { loadFlashSaleConfig } from './config.ts';

const log = createLogger({ name: 'flash-sale' });
try {
  const config = loadFlashSaleConfig();
  const metrics = createMetrics({ process: 'flash-sale' });
  const health = new Health();
  const lifecycle = new Lifecycle({ log });
  const pool = createPool(config.TITAN_DATABASE_URL, { name: 'flash-sale' });
  lifecycle.onShutdown('postgres', () => pool.end());
  health.addCheck('postgres', () => pool.query('SELECT 1'));
  let router = new CellRouter(loadCellMap(config.TITAN_CELL_MAP));
  const { watchFile } = await import('node:fs');
  watchFile(config.TITAN_CELL_MAP, { interval: 1000 }, () => {
    try {
      const next = new CellRouter(loadCellMap(config.TITAN_CELL_MAP));
      if (next.version > router.version) router = next;
    } catch (err) {
      log.error({ err }, 'new cell map refused');
    }
  });
  const verify = createAccessTokenVerifier({
    jwks: new URL(config.TITAN_AUTH_JWKS_URL),
    issuer: config.TITAN_AUTH_ISSUER,
    audience: config.TITAN_AUTH_AUDIENCE,
  });
  const app = createFlashSaleApp({
    pool,
    router: () => router,
    verify,
    log,
    metrics,
    health,
    control: { tickMs: config.TITAN_FLASH_SALE_TICK_MS, poolFraction: config.TITAN_FLASH_SALE_POOL_FRACTION },
  });
  lifecycle.onShutdown('flash-sale', () => app.close());
  app.start();
  await app.server.listen(config.TITAN_FLASH_SALE_PORT, serviceListenHost());
} catch (err) {
  log.fatal({ err }, 'flash-sale failed to start');
  process.exit(1);
}
