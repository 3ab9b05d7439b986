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

test('the local cluster map puts the same 4 cells on one Redis Cluster, with dev-stack seeds by default', () => {
  const path = LOCAL_CELL_MAP_PATH.replace(/local\.json$/, 'local-cluster.json');
  const local = loadCellMap(LOCAL_CELL_MAP_PATH, { env: {} });
  const map = loadCellMap(path, { env: {} });
  assert.deepEqual(map.shards[0]!.redis, {
    cluster: [0, 1, 2, 3, 4, 5].map((i) => `redis://127.0.0.1:${17000 + i}`),
  });
  assert.deepEqual(
    map.cells,
    local.cells.map((c) => ({ ...c, shard: 'cluster' })),
  );
  assert.deepEqual(map.slots, local.slots);
  assert.equal(serializeCellMap(loadCellMap(path, { env: false })), readFileSync(path, 'utf8'));
  // the stack exports the seeds as one comma-separated variable: one placeholder becomes every seed
  const test = loadCellMap(path, {
    env: { TITAN_REDIS_CLUSTER_SEEDS: 'redis://127.0.0.1:28000, redis://127.0.0.1:28001,' },
  });
  assert.deepEqual(test.shards[0]!.redis, {
    cluster: ['redis://127.0.0.1:28000', 'redis://127.0.0.1:28001'],
  });
});

test('a cluster seed placeholder splits on commas; literal seeds do not; each seed is validated', () => {
  const map = generateMap({
    cells: 2,
    shards: 1,
    redis: () => ({ cluster: ['redis://a:7000', ph('SEEDS')] }),
  });
  const resolved = parseCellMap(map, { env: { SEEDS: 'redis://b:7001,redis://c:7002' } });
  assert.deepEqual(resolved.shards[0]!.redis, {
    cluster: ['redis://a:7000', 'redis://b:7001', 'redis://c:7002'],
  });
  assert.throws(
    () => parseCellMap(map, { env: { SEEDS: ' , ' } }),
    /\/shards\/0\/redis\/cluster\/1: \$\{SEEDS\} expands to no seed/,
  );
  assert.throws(
    () => parseCellMap(map, { env: { SEEDS: 'redis://b:7001,http://c:7002' } }),
    /\/shards\/0\/redis\/cluster\/2: redis URL must start with redis:\/\/ or rediss:\/\//,
  );
  // a url shard is never split (a comma there is part of the URL, and then an invalid one)
  const single = generateMap({ cells: 2, shards: 1, redis: () => ({ url: ph('ONE') }) });
  assert.throws(
    () => parseCellMap(single, { env: { ONE: 'redis://a:1,redis://b:2' } }),
    /\/shards\/0\/redis\/url/,
  );
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
