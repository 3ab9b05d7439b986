import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CellErrors } from './errors.ts';
import { generateMap } from './generate.ts';
import { SLOT_COUNT } from './schema.ts';
import { slotCounts, slotTable } from './slots.ts';
import { cellMapProblems } from './validate.ts';

test('500 cells over 10 shards: valid, 32 or 33 slots each, one range per cell', () => {
  const map = generateMap({ cells: 500, shards: 10 });
  assert.deepEqual(cellMapProblems(map), []);
  assert.equal(map.slots.length, 500);
  const counts = slotCounts(slotTable(map));
  assert.equal(counts.size, 500);
  for (const n of counts.values()) assert.ok(n === 32 || n === 33, `cell has ${n} slots`);
  assert.deepEqual(
    map.shards.map((s) => s.id),
    ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9'],
  );
  for (const shard of map.shards) assert.equal(map.cells.filter((c) => c.shard === shard.id).length, 50);
});

test('every backup sits on another shard, and each cell backs exactly one other', () => {
  for (const [cells, shards] of [
    [500, 10],
    [7, 3],
    [10, 3],
    [3, 2],
  ] as const) {
    const map = generateMap({ cells, shards });
    const byId = new Map(map.cells.map((c) => [c.id, c]));
    const backing = new Map<number, number>();
    for (const c of map.cells) {
      assert.notEqual(byId.get(c.backup)!.shard, c.shard, `cell ${c.id} of ${cells}x${shards}`);
      backing.set(c.backup, (backing.get(c.backup) ?? 0) + 1);
    }
    assert.ok(Math.max(...backing.values()) <= 2, `${cells}x${shards}: a cell backs too many`);
  }
  const single = generateMap({ cells: 3, shards: 1 });
  assert.deepEqual(
    single.cells.map((c) => c.backup),
    [1, 2, 0],
  );
});

test('shard endpoints come from the callbacks, Redis Cluster included', () => {
  const map = generateMap({
    cells: 4,
    shards: 2,
    redis: (i) => ({ cluster: [`redis://r${i}a:7000`, `redis://r${i}b:7000`] }),
    postgres: (i) => `postgres://pg${i}/titan`,
  });
  assert.deepEqual(map.shards[1]!.redis, { cluster: ['redis://r1a:7000', 'redis://r1b:7000'] });
  assert.equal(map.shards[1]!.postgres.url, 'postgres://pg1/titan');
});

test('impossible sizes are refused', () => {
  const refused = (err: unknown) => CellErrors.CELL_OPERATION_REJECTED.is(err);
  assert.throws(() => generateMap({ cells: 1, shards: 1 }), refused);
  assert.throws(() => generateMap({ cells: SLOT_COUNT + 1, shards: 1 }), refused);
  assert.throws(() => generateMap({ cells: 4, shards: 5 }), refused);
  assert.throws(() => generateMap({ cells: 4, shards: 0 }), refused);
});
