/**
 * PostgreSQL: a pool per process, and a migration runner. Each service keeps its migrations as
 * `NNN_name.sql` files in its own `migrations/` folder; they apply once, in order, each in its own
 * transaction, recorded per service in `titan_migrations`. An advisory lock makes concurrent
 * starters wait for one another instead of racing.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { defineErrors } from './errors.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export const DbErrors = defineErrors({
  MIGRATION_FAILED: { status: 500, message: 'A database migration failed' },
  MIGRATION_CHANGED: { status: 500, message: 'An applied migration file was changed' },
});

export function createPool(connectionString: string, options: { max?: number; name?: string } = {}): Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.name ?? 'titan',
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its connection emits here; without a listener it would crash the process.
  pool.on('error', () => {});
  return pool;
}

/** Runs `fn` in a transaction; commits when it resolves, rolls back when it throws. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

const MIGRATION_LOCK = 0x7174616e; // 'qtan'

export interface MigrationResult {
  applied: string[];
  skipped: number;
}

export async function migrate(pool: Pool, service: string, dir: string): Promise<MigrationResult> {
  const files = readdirSync(dir)
    .filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f))
    .sort();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS titan_migrations (
      service text NOT NULL, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, name))`);
    const done = new Map(
      (
        await client.query<{ name: string; checksum: string }>(
          'SELECT name, checksum FROM titan_migrations WHERE service = $1',
          [service],
        )
      ).rows.map((r) => [r.name, r.checksum]),
    );
    for (const file of files) {
      const sql = readFileSync(join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const previous = done.get(file);
      if (previous !== undefined) {
        if (previous !== checksum) {
          throw DbErrors.MIGRATION_CHANGED(
            `${service}/${file} changed after it was applied; add a new migration`,
          );
        }
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(sql);
        await client.query('INSERT INTO titan_migrations (service, name, checksum) VALUES ($1, $2, $3)', [
          service,
          file,
          checksum,
        ]);
        await client.query('COMMIT');
        applied.push(file);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw DbErrors.MIGRATION_FAILED(`${service}/${file}: ${(err as Error).message}`);
      }
    }
    return { applied, skipped: files.length - applied.length };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
