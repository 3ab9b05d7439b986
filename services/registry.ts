/**
 * The services the platform runs, in dependency order: where their migrations live, how their
 * process starts, and what they seed for the local demo. `npm start` and the tests read this list;
 * a new service adds itself here.
 */
import { AUTH_MIGRATIONS, loadAuthConfig, seedBootstrapAdmin } from './auth/index.ts';
import { CATALOG_MIGRATIONS, seedDemoCatalog } from './catalog/index.ts';
import { EVENTS_MIGRATIONS } from './events/index.ts';
import { FLASH_SALE_MIGRATIONS, seedDemoSale } from './flash-sale/index.ts';
import type { Pool } from './kit/index.ts';
import { USER_MIGRATIONS } from './user/index.ts';

export interface SeedContext {
  pool: Pool;
  redisUrl: string;
  env: NodeJS.ProcessEnv;
}

export interface ServiceEntry {
  name: string;
  /** Absolute path of the service's `migrations/` folder. */
  migrations: string;
  /** The process entry, relative to the repo root; absent for a module with no process of its own. */
  entry?: string;
  /** The variable holding its HTTP port, and the port's default. */
  port?: { env: string; default: number };
  /** Idempotent demo data for `npm start`; returns a short summary of what exists afterwards. */
  seed?: (ctx: SeedContext) => Promise<Record<string, unknown> | undefined>;
  /** Lines `npm start` prints about this service (URLs, demo credentials). */
  banner?: (env: NodeJS.ProcessEnv) => string[];
}

export const SERVICES: readonly ServiceEntry[] = [
  {
    // First: its outbox and applied-events tables are used by the services below.
    name: 'events',
    migrations: EVENTS_MIGRATIONS,
    entry: 'services/events/relay-main.ts',
    port: { env: 'TITAN_RELAY_PORT', default: 8105 },
  },
  {
    name: 'user',
    migrations: USER_MIGRATIONS,
    entry: 'services/user/main.ts',
    port: { env: 'TITAN_USER_PORT', default: 8102 },
  },
  {
    name: 'auth',
    migrations: AUTH_MIGRATIONS,
    entry: 'services/auth/main.ts',
    port: { env: 'TITAN_AUTH_PORT', default: 8101 },
    seed: ({ pool, env }) => seedBootstrapAdmin(pool, env),
    banner: (env) => {
      const c = loadAuthConfig(env);
      return [`  operator     ${c.TITAN_BOOTSTRAP_ADMIN_EMAIL} / ${c.TITAN_BOOTSTRAP_ADMIN_PASSWORD}`];
    },
  },
  {
    name: 'catalog',
    migrations: CATALOG_MIGRATIONS,
    entry: 'services/catalog/main.ts',
    port: { env: 'TITAN_CATALOG_PORT', default: 8103 },
    seed: ({ pool }) => seedDemoCatalog(pool),
  },
  {
    name: 'flash-sale',
    migrations: FLASH_SALE_MIGRATIONS,
    entry: 'services/flash-sale/main.ts',
    port: { env: 'TITAN_FLASH_SALE_PORT', default: 8104 },
    seed: ({ pool }) => seedDemoSale(pool),
    banner: (env) => [
      `  flash sales  http://127.0.0.1:${env.TITAN_EDGE_PORT ?? 8080}/v1/flash-sales (the demo sale opens a minute after start)`,
    ],
  },
];
