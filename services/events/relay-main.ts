/**
 * The events relay process: one cell outbox relay per cell of the map (on the cell's shard) and the
 * PostgreSQL outbox relay, all publishing to the configured bus. Serves /health, /ready and /metrics
 * (`titan_outbox_relay_lag{cell}`) on TITAN_RELAY_PORT. New cells of a newer map version get a relay.
 */
import { watchFile } from 'node:fs';
import { CellRouter, loadCellMap, ShardClients } from '../../cells/index.ts';
import {
  createLogger,
  createMetrics,
  createPool,
  Health,
  HttpServer,
  Lifecycle,
  serviceListenHost,
} from '../kit/index.ts';
import { CellOutboxRelay } from './cell-outbox-relay.ts';
import { loadRelayConfig } from './config.ts';
import { createEventBus } from './create-bus.ts';
import { PgOutboxRelay } from './pg-outbox.ts';

const log = createLogger({ name: 'events-relay' });
try {
  const config = loadRelayConfig();
  const metrics = createMetrics({ process: 'events-relay' });
  const health = new Health();
  const lifecycle = new Lifecycle({ log });
  const pool = createPool(config.TITAN_DATABASE_URL, { max: 4, name: 'events-relay' });
  lifecycle.onShutdown('postgres', () => pool.end());
  const shards = new ShardClients(log);
  lifecycle.onShutdown('shards', () => shards.close());
  const bus = createEventBus(config, { clientId: 'events-relay' });
  lifecycle.onShutdown('bus', () => bus.close());

  let router = new CellRouter(loadCellMap(config.TITAN_CELL_MAP));
  const relays = new Map<number, CellOutboxRelay>();
  const startRelays = () => {
    for (const cell of router.cells) {
      if (relays.has(cell)) continue;
      const relay = new CellOutboxRelay({
        cell,
        redis: shards.clientFor(router, cell),
        bus,
        metrics,
        log,
        retentionMs: config.TITAN_OUTBOX_RETENTION_MS,
        pollMs: config.TITAN_OUTBOX_POLL_MS,
      });
      relays.set(cell, relay);
      relay.start();
    }
  };
  startRelays();
  watchFile(config.TITAN_CELL_MAP, { interval: 1000 }, () => {
    try {
      const next = new CellRouter(loadCellMap(config.TITAN_CELL_MAP));
      if (next.version > router.version) {
        router = next;
        startRelays();
      }
    } catch (err) {
      log.error({ err }, 'new cell map refused');
    }
  });
  const pgRelay = new PgOutboxRelay({ pool, bus, log });
  pgRelay.start();
  lifecycle.onShutdown('relays', async () => {
    await Promise.all([...relays.values()].map((r) => r.stop()));
    await pgRelay.stop();
  });

  health.addCheck('postgres', () => pool.query('SELECT 1'));
  health.addCheck('shards', async () => {
    const { down } = await shards.pingAll(router);
    if (down.length) throw new Error(`shards down: ${down.join(', ')}`);
  });
  const server = new HttpServer({ name: 'events-relay', log, metrics, health });
  lifecycle.onShutdown('http', () => server.close());
  await server.listen(config.TITAN_RELAY_PORT, serviceListenHost());
  log.info({ bus: config.TITAN_BUS, cells: router.cells.length }, 'events relay running');
} catch (err) {
  log.fatal({ err }, 'events relay failed to start');
  process.exit(1);
}
