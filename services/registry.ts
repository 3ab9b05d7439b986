/**
 * The services the platform runs, in dependency order: where their migrations live, and what they
 * seed for the local demo. `npm start` and the test stack read this list; a new service adds itself here.
 */
import type { Pool } from './kit/index.ts';

export interface SeedContext {
  pool: Pool;
  redisUrl: string;
  env: NodeJS.ProcessEnv;
}

export interface ServiceEntry {
  name: string;
  /** Absolute path of the service's `migrations/` folder. */
  migrations: string;
  /** Idempotent demo data for `npm start`; returns a short summary of what exists afterwards. */
  seed?: (ctx: SeedContext) => Promise<Record<string, unknown> | undefined>;
  /** Lines `npm start` prints about this service (URLs, demo credentials). */
  banner?: (env: NodeJS.ProcessEnv) => string[];
}

export const SERVICES: readonly ServiceEntry[] = [];
