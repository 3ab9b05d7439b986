import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CellErrors } from './errors.ts';
import { generateMap } from './generate.ts';
import { slotOf } from './hash.ts';
import { LOCAL_CELL_MAP_PATH } from './index.ts';
import { loadCellMap } from './load.ts';
import { failover, setStatus } from './operations.ts';
import { CellRouter, cellHashTag } from './router.ts';

const local = loadCellMap(LOCAL_CELL_MAP_PATH, { env: {} });

test('cellOf follows the slot table: slot -> the range that holds it', () => {
  const router = new CellRouter(local);
  fc.assert(
    fc.property(fc.string(), (id) => {
      const slot = slotOf(id);
      const range = local.slots.find((r) => r.from <= slot && slot <= r.to)!;
      assert.equal(router.slotOf(id), slot);
      assert.equal(router.cellOf(id), range.cell);
      assert.equal(router.route(id), range.cell);
    }),
  );
});

test('the local map spreads users evenly over its 4 cells', () => {
  const router = new CellRouter(local);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 40_000; i++) counts[router.route(`user-${i}`)]!++;
  for (const n of counts) assert.ok(Math.abs(n - 10_000) < 500, `cell count ${n}`);
});

test('cell -> shard, status, backup, pools and hash tag', () => {
  const map = generateMap({ cells: 6, shards: 3 });
  const router = new CellRouter(map);
  assert.equal(router.shardOfCell(4).id, 's1');
  assert.equal(router.shardOfCell(4), router.map.shards[1]);
  assert.equal(router.cellStatus(4), 'active');
  assert.equal(router.backupOf(4), 5);
  assert.equal(router.pools(4).flashSale.maxThreads, map.cells[4]!.pools.flashSale.maxThreads);
  assert.equal(router.hashTag(17 % 6), '{c5}');
  assert.equal(cellHashTag(17), '{c17}');
  assert.equal(router.version, map.version);
  assert.deepEqual(router.cells, [0, 1, 2, 3, 4, 5]);
});

test('shardOf(user) is the shard of the serving cell', () => {
  const router = new CellRouter(generateMap({ cells: 10, shards: 4 }));
  for (let i = 0; i < 1000; i++) {
    const id = `u${i}`;
    assert.equal(router.shardOf(id), router.shardOfCell(router.route(id)));
  }
});

test('a down cell routes its users to its backup; cellOf still names the owner', () => {
  const map = failover(generateMap({ cells: 5, shards: 1 }), 2);
  const router = new CellRouter(map);
  assert.equal(router.cellStatus(2), 'down');
  assert.equal(router.servingCellOf(2), 3);
  let seen = 0;
  for (let i = 0; i < 5000; i++) {
    const id = `user-${i}`;
    if (router.cellOf(id) !== 2) {
      assert.equal(router.route(id), router.cellOf(id));
      continue;
    }
    seen++;
    assert.equal(router.route(id), 3);
    assert.equal(router.shardOf(id), router.shardOfCell(3));
  }
  assert.ok(seen > 0);
});

test('failover follows the backup chain when the backup is down too', () => {
  const map = failover(failover(generateMap({ cells: 5, shards: 1 }), 3), 2);
  const router = new CellRouter(map);
  assert.equal(router.servingCellOf(2), 4);
  assert.equal(router.servingCellOf(3), 4);
  assert.equal(router.routeSlot(map.slots.find((r) => r.cell === 2)!.from), 4);
});

test('a draining cell still serves its users', () => {
  const router = new CellRouter(setStatus(generateMap({ cells: 3, shards: 1 }), 1, 'draining'));
  assert.equal(router.cellStatus(1), 'draining');
  assert.equal(router.servingCellOf(1), 1);
});

test('numeric ids route like their decimal strings', () => {
  const router = new CellRouter(generateMap({ cells: 50, shards: 5 }));
  fc.assert(
    fc.property(fc.maxSafeNat(), (n) => {
      assert.equal(router.routeNumber(n), router.route(String(n)));
    }),
  );
});

test('an unknown cell is a CELL_UNKNOWN error, not undefined', () => {
  const router = new CellRouter(local);
  for (const bad of [4, -1, 1.5, 70000]) {
    assert.equal(router.has(bad), false);
    assert.throws(
      () => router.shardOfCell(bad),
      (err: unknown) => CellErrors.CELL_UNKNOWN.is(err),
    );
    assert.throws(
      () => router.cellStatus(bad),
      (err: unknown) => CellErrors.CELL_UNKNOWN.is(err),
    );
  }
});

test('a router refuses an invalid map', () => {
  const map = structuredClone(local);
  map.slots.pop();
  assert.throws(
    () => new CellRouter(map),
    (err: unknown) => CellErrors.CELL_MAP_INVALID.is(err),
  );
});
