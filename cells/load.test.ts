import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CellErrors } from './errors.ts';
import { generateMap } from './generate.ts';
import { LOCAL_CELL_MAP_PATH } from './index.ts';
import { loadCellMap, parseCellMap, serializeCellMap } from './load.ts';
import { expandPlaceholders } from './placeholders.ts';

/** `${body}`, spelled so that it does not read as a mistaken template literal. */
const ph = (body: string) => `\${${body}}`;

test('the local map is 4 active cells on one Redis and one PostgreSQL, with dev-stack defaults', () => {
  const map = loadCellMap(LOCAL_CELL_MAP_PATH, { env: {} });
  assert.equal(map.shards.length, 1);
  assert.deepEqual(
    map.cells.map((c) => [c.id, c.status, c.shard]),
    [
      [0, 'active', 'local'],
      [1, 'active', 'local'],
      [2, 'active', 'local'],
      [3, 'active', 'local'],
    ],
  );
  assert.deepEqual(map.shards[0]!.redis, { url: 'redis://127.0.0.1:16379' });
  assert.equal(map.shards[0]!.postgres.url, 'postgres://titan@127.0.0.1:15432/titan');
});

test('the same local map serves the test stack when its URLs are in the environment', () => {
  const map = loadCellMap(LOCAL_CELL_MAP_PATH, {
    env: {
      TITAN_REDIS_URL: 'redis://127.0.0.1:26379',
      TITAN_DATABASE_URL: 'postgres://t@127.0.0.1:25432/titan_test',
    },
  });
  assert.deepEqual(map.shards[0]!.redis, { url: 'redis://127.0.0.1:26379' });
  assert.equal(map.shards[0]!.postgres.url, 'postgres://t@127.0.0.1:25432/titan_test');
});

test('env: false keeps placeholders, and the file is exactly its own serialization', () => {
  const raw = loadCellMap(LOCAL_CELL_MAP_PATH, { env: false });
  assert.match(JSON.stringify(raw.shards), /\$\{TITAN_REDIS_URL:-/);
  assert.equal(serializeCellMap(raw), readFileSync(LOCAL_CELL_MAP_PATH, 'utf8'));
});

test('a placeholder with no value and no default names the variable and the path', () => {
  const map = generateMap({
    cells: 2,
    shards: 1,
    redis: () => ({ cluster: ['redis://a:7000', ph('SEED_B')] }),
  });
  assert.throws(
    () => parseCellMap(map, { env: {} }),
    (err: unknown) => {
      assert.ok(CellErrors.CELL_MAP_INVALID.is(err));
      assert.match(err.message, /\/shards\/0\/redis\/cluster\/1: environment variable SEED_B is not set/);
      return true;
    },
  );
  const resolved = parseCellMap(map, { env: { SEED_B: 'redis://b:7001' } });
  assert.deepEqual(resolved.shards[0]!.redis, { cluster: ['redis://a:7000', 'redis://b:7001'] });
});

test('an expanded URL must still be a URL of the right kind', () => {
  const map = generateMap({ cells: 2, shards: 1, postgres: () => ph('PG_URL') });
  assert.throws(() => parseCellMap(map, { env: { PG_URL: 'mysql://x/y' } }), /\/shards\/0\/postgres\/url/);
});

test('placeholders follow shell rules: empty counts as unset, malformed ones are named', () => {
  assert.deepEqual(expandPlaceholders(`${ph('A:-x')}/${ph('B')}`, { A: '', B: 'b' }), {
    ok: true,
    value: 'x/b',
  });
  assert.deepEqual(expandPlaceholders(ph('A:-'), {}), { ok: true, value: '' });
  const bad = expandPlaceholders(ph('not valid'), {});
  assert.equal(bad.ok, false);
  assert.deepEqual(expandPlaceholders(ph('A:-x'), false), { ok: true, value: ph('A:-x') });
  assert.equal(expandPlaceholders(ph('1A'), false).ok, false);
});

test('parse accepts JSON text and round-trips through serializeCellMap', () => {
  const map = generateMap({ cells: 7, shards: 3 });
  assert.deepEqual(parseCellMap(serializeCellMap(map), { env: {} }), map);
});

test('unreadable or non-JSON files fail with CELL_MAP_UNREADABLE naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cells-'));
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{ "version": ');
  assert.throws(
    () => loadCellMap(broken),
    (err: unknown) => CellErrors.CELL_MAP_UNREADABLE.is(err) && err.message.startsWith(broken),
  );
  assert.throws(
    () => loadCellMap(join(dir, 'missing.json')),
    (err: unknown) => CellErrors.CELL_MAP_UNREADABLE.is(err),
  );
});

test('an invalid file fails with CELL_MAP_INVALID prefixed by its path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cells-'));
  const file = join(dir, 'map.json');
  const map = generateMap({ cells: 3, shards: 1 });
  map.cells[1]!.backup = 1;
  writeFileSync(file, serializeCellMap(map));
  assert.throws(() => loadCellMap(file), new RegExp(`^.*${file}: cell map invalid: /cells/1/backup`));
});
