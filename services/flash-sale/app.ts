/** Builds the flash-sale service; used by main.ts and by tests. */
import { type CellRouter, ShardClients } from '../../cells/index.ts';
import { type AccessTokenVerifier, bearerToken } from '../auth/index.ts';
import type { Health, HttpServerOptions, Logger, Metrics, Pool } from '../kit/index.ts';
import { HttpServer } from '../kit/index.ts';
import { CellsSide } from './cells-side.ts';
import { ControlLoop, type ControlSettings, DEFAULT_CONTROL } from './control-loop.ts';
import { registerFlashSaleRoutes } from './routes.ts';
import { FlashSaleService } from './service.ts';
import { SaleStore } from './store.ts';

export interface FlashSaleAppDeps {
  pool: Pool;
  router: () => CellRouter;
  verify: AccessTokenVerifier;
  log: Logger;
  metrics: Metrics;
  health: Health;
  control?: Partial<ControlSettings>;
  server?: Partial<HttpServerOptions>;
}

export function createFlashSaleApp(deps: FlashSaleAppDeps) {
  const shards = new ShardClients(deps.log);
  const store = new SaleStore(deps.pool);
  const control = new ControlLoop(store, new CellsSide(shards, deps.router), deps.pool, deps.log, {
    ...DEFAULT_CONTROL,
    ...deps.control,
  });
  const sales = new FlashSaleService(store, control);
  const server = new HttpServer({
    name: 'flash-sale',
    log: deps.log,
    metrics: deps.metrics,
    health: deps.health,
    ...deps.server,
  });
  registerFlashSaleRoutes(server, {
    sales,
    control,
    authenticate: (ctx) => deps.verify(bearerToken(ctx.headers.authorization)),
  });
  return {
    server,
    sales,
    control,
    shards,
    start: () => {
      // Shard health, so the control loop skips a down shard's cells at once instead of timing out on them.
      shards.monitor(deps.router);
      control.start();
    },
    async close() {
      await server.close();
      await control.stop();
      await shards.close();
    },
  };
}
