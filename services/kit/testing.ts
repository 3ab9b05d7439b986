/**
 * Helpers for tests that run against the test stack `npm test` starts (see deploy/test/run-tests.ts).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type Pool } from './db.ts';

/** A stack setting, or a clear failure telling the reader to run the tests through `npm test`. */
export function stackSetting(
  name: 'TITAN_REDIS_URL' | 'TITAN_DATABASE_URL' | 'TITAN_PG_ADMIN_URL' | 'TITAN_KAFKA_BROKERS',
): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests with \`npm test\`, which starts the test stack`);
  return value;
}

/** A short random id for isolating a test's keys, databases and topics from concurrent test files. */
export function uniqueId(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL database of its own for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = stackSetting('TITAN_PG_ADMIN_URL');
  const name = uniqueId('test_');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  const pool = createPool(url, { max: 20, name });
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
