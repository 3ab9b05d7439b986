import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { migrate, withTransaction } from './db.ts';
import { TitanError } from './errors.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

function migrationsCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'titan-migrations-'));
  cpSync(fileURLToPath(new URL('./test/fixtures/migrations', import.meta.url)), dir, { recursive: true });
  return dir;
}

test('migrations apply once, in order, and a second run applies nothing', async () => {
  const dir = migrationsCopy();
  const first = await migrate(db.pool, 'demo', dir);
  assert.deepEqual(first.applied, ['001_widgets.sql', '002_widget_price.sql']);
  const second = await migrate(db.pool, 'demo', dir);
  assert.deepEqual(second, { applied: [], skipped: 2 });
  const cols = await db.pool.query(
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'widgets' ORDER BY 1",
  );
  assert.deepEqual(
    cols.rows.map((r) => r.column_name),
    ['id', 'name', 'price_minor'],
  );
});

test('concurrent migrators wait for each other instead of racing', async () => {
  const dir = migrationsCopy();
  writeFileSync(join(dir, '003_gadgets.sql'), 'CREATE TABLE gadgets (id int PRIMARY KEY);');
  const results = await Promise.all([migrate(db.pool, 'demo', dir), migrate(db.pool, 'demo', dir)]);
  assert.deepEqual(
    results.flatMap((r) => r.applied),
    ['003_gadgets.sql'],
  );
});

test('a failing migration rolls back entirely and is reported by name', async () => {
  const dir = migrationsCopy();
  writeFileSync(join(dir, '004_broken.sql'), 'CREATE TABLE half_done (id int); SELECT nonsense_function();');
  await assert.rejects(migrate(db.pool, 'demo', dir), (err: unknown) => {
    return (
      err instanceof TitanError && err.code === 'MIGRATION_FAILED' && err.message.includes('004_broken.sql')
    );
  });
  const exists = await db.pool.query("SELECT to_regclass('half_done') AS t");
  assert.equal(exists.rows[0].t, null);
});

test('editing an applied migration is detected', async () => {
  const dir = migrationsCopy();
  writeFileSync(join(dir, '001_widgets.sql'), 'CREATE TABLE widgets (id int);');
  await assert.rejects(migrate(db.pool, 'demo', dir), /001_widgets\.sql changed/);
});

test('withTransaction commits on success and rolls back on error', async () => {
  await withTransaction(db.pool, (c) => c.query("INSERT INTO widgets (name, price_minor) VALUES ('a', 100)"));
  await assert.rejects(
    withTransaction(db.pool, async (c) => {
      await c.query("INSERT INTO widgets (name, price_minor) VALUES ('b', 200)");
      throw new Error('abort');
    }),
  );
  const names = await db.pool.query('SELECT name FROM widgets ORDER BY name');
  assert.deepEqual(
    names.rows.map((r) => r.name),
    ['a'],
  );
});
