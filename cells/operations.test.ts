import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CellErrors } from './errors.ts';
import { generateMap } from './generate.ts';
import { addCells, failover, moveSlots, setStatus, tune } from './operations.ts';
import { CellRouter } from './router.ts';
import type { CellMap } from './schema.ts';
import { SLOT_COUNT } from './schema.ts';
import { diffSlots, slotCounts, slotTable } from './slots.ts';
import { validateCellMap } from './validate.ts';

const rejected = (err: unknown) => CellErrors.CELL_OPERATION_REJECTED.is(err);
const arbMap = fc
  .record({ cells: fc.integer({ min: 2, max: 80 }), shards: fc.integer({ min: 1, max: 5 }) })
  .filter((o) => o.shards <= o.cells)
  .map((o) => generateMap(o));

test('addCells moves slots only to new cells, at most the ideal share rounded up, and keeps every slot owned', () => {
  fc.assert(
    fc.property(arbMap, fc.integer({ min: 1, max: 40 }), (map, n) => {
      const before = structuredClone(map);
      const after = addCells(map, n);
      assert.deepEqual(map, before, 'input untouched');
      assert.equal(after.version, map.version + 1);
      validateCellMap(after);
      const oldIds = new Set(map.cells.map((c) => c.id));
      const moves = diffSlots(map, after);
      for (const m of moves) assert.ok(!oldIds.has(m.toCell), `slot moved to old cell ${m.toCell}`);
      const moved = moves.reduce((a, m) => a + m.to - m.from + 1, 0);
      const ideal = (SLOT_COUNT * n) / (map.cells.length + n);
      assert.ok(moved <= Math.ceil(ideal), `moved ${moved} > ideal ${ideal}`);
      assert.ok(moved >= Math.floor(ideal) - n, `moved ${moved} far below ideal ${ideal}`);
      // From a balanced map the result is balanced again: slot counts differ by at most one.
      const counts = [...slotCounts(slotTable(after)).values()];
      assert.ok(
        Math.max(...counts) - Math.min(...counts) <= 1,
        `counts ${Math.min(...counts)}..${Math.max(...counts)}`,
      );
      assert.equal(after.cells.length, map.cells.length + n);
    }),
    { numRuns: 60 },
  );
});

test('addCells takes from the biggest cells first on an unbalanced map', () => {
  const map = moveSlots(generateMap({ cells: 4, shards: 1 }), { from: 0, to: 2047 }, 1);
  // cell 0: 2048 slots, cell 1: 6144, cells 2 and 3: 4096 each; a fifth cell needs 3276.
  const after = addCells(map, 1);
  const taken = new Map<number, number>();
  for (const m of diffSlots(map, after))
    taken.set(m.fromCell, (taken.get(m.fromCell) ?? 0) + m.to - m.from + 1);
  assert.equal(taken.get(0), undefined);
  assert.ok(taken.get(1)! > (taken.get(2) ?? 0));
  assert.equal(
    [...taken.values()].reduce((a, b) => a + b, 0),
    3276,
  );
});

test('new cells get active status, new ids, and a backup on another shard', () => {
  const map = generateMap({ cells: 6, shards: 3 });
  const after = addCells(map, 3);
  const added = after.cells.slice(6);
  assert.deepEqual(
    added.map((c) => c.id),
    [6, 7, 8],
  );
  for (const c of added) {
    assert.equal(c.status, 'active');
    const backup = after.cells.find((b) => b.id === c.backup)!;
    assert.notEqual(backup.shard, c.shard);
  }
  assert.deepEqual(new Set(added.map((c) => c.shard)), new Set(['s0', 's1', 's2']));
  assert.equal(addCells(map, 1, { shard: 's2' }).cells[6]!.shard, 's2');
  assert.throws(() => addCells(map, 1, { shard: 'nope' }), rejected);
  assert.throws(() => addCells(map, 0), rejected);
});

test('moveSlots moves exactly the given slots and preserves the total slot count', () => {
  fc.assert(
    fc.property(
      arbMap,
      fc.uniqueArray(fc.integer({ min: 0, max: SLOT_COUNT - 1 }), { maxLength: 300 }),
      fc.nat(),
      (map, slots, pick) => {
        const to = map.cells[pick % map.cells.length]!.id;
        const after = moveSlots(map, slots, to);
        const a = slotTable(map);
        const b = slotTable(after);
        let total = 0;
        for (const n of slotCounts(b).values()) total += n;
        assert.equal(total, SLOT_COUNT);
        const chosen = new Set(slots);
        for (let s = 0; s < SLOT_COUNT; s++) assert.equal(b[s], chosen.has(s) ? to : a[s]);
        assert.equal(after.version, map.version + 1);
      },
    ),
    { numRuns: 60 },
  );
});

test('moveSlots accepts a range and refuses bad slots or a target that is not active', () => {
  const map = generateMap({ cells: 4, shards: 2 });
  const after = moveSlots(map, { from: 0, to: 99 }, 3);
  assert.deepEqual(diffSlots(map, after), [{ from: 0, to: 99, fromCell: 0, toCell: 3 }]);
  assert.throws(() => moveSlots(map, [SLOT_COUNT], 1), rejected);
  assert.throws(() => moveSlots(map, { from: 5, to: 1 }, 1), rejected);
  assert.throws(
    () => moveSlots(map, [1], 9),
    (err: unknown) => CellErrors.CELL_UNKNOWN.is(err),
  );
  assert.throws(() => moveSlots(setStatus(map, 2, 'draining'), [1], 2), /it is draining/);
});

test("failover changes the serving cell of that cell's slots only", () => {
  fc.assert(
    fc.property(arbMap, fc.nat(), (map, pick) => {
      const cell = map.cells[pick % map.cells.length]!;
      const before = new CellRouter(map);
      const after = new CellRouter(failover(map, cell.id));
      for (let s = 0; s < SLOT_COUNT; s++) {
        if (before.routeSlot(s) === cell.id) assert.equal(after.routeSlot(s), cell.backup);
        else assert.equal(after.routeSlot(s), before.routeSlot(s));
      }
      assert.deepEqual(diffSlots(map, after.map), [], 'failover changes routing, not slot ownership');
    }),
    { numRuns: 40 },
  );
});

test('failover refuses a cell already down, and the last cell of a backup chain', () => {
  const map = failover(generateMap({ cells: 2, shards: 1 }), 0);
  assert.throws(() => failover(map, 0), /already down/);
  assert.throws(
    () => failover(map, 1),
    (err: unknown) => rejected(err) && /nowhere to go/.test((err as Error).message),
  );
  assert.equal(setStatus(map, 0, 'active').cells[0]!.status, 'active');
});

test('tune changes one pool of one cell, validated, as a new version', () => {
  const map = generateMap({ cells: 3, shards: 1 });
  const after = tune(map, 1, 'flashSale', { maxThreads: 8, batchMaxSize: 128 });
  assert.equal(after.version, map.version + 1);
  assert.deepEqual(after.cells[1]!.pools.flashSale, {
    ...map.cells[1]!.pools.flashSale,
    maxThreads: 8,
    batchMaxSize: 128,
  });
  assert.deepEqual(after.cells[0], map.cells[0]);
  assert.deepEqual(after.cells[1]!.pools.fraud, map.cells[1]!.pools.fraud);
  assert.equal(map.cells[1]!.pools.flashSale.maxThreads, 4, 'input untouched');
  assert.equal(tune(map, 2, 'fraud', { denyThreshold: 0.95 }).cells[2]!.pools.fraud.denyThreshold, 0.95);
});

test('tune refuses settings out of range and names them', () => {
  const map = generateMap({ cells: 3, shards: 1 });
  const invalidAt = (path: string) => (err: unknown) =>
    CellErrors.CELL_MAP_INVALID.is(err) &&
    (err.details?.['problems'] as { path: string }[] | undefined)?.[0]?.path === path;
  assert.throws(
    () => tune(map, 1, 'flashSale', { maxThreads: 1 }),
    invalidAt('/cells/1/pools/flashSale/minThreads'),
  );
  assert.throws(
    () => tune(map, 1, 'inventory', { batchMaxSize: 0 }),
    invalidAt('/cells/1/pools/inventory/batchMaxSize'),
  );
  assert.throws(
    () => tune(map, 0, 'fraud', { reviewThreshold: 0.95 }),
    invalidAt('/cells/0/pools/fraud/reviewThreshold'),
  );
  assert.throws(
    () => tune(map, 0, 'flashSale', { maxTreads: 3 } as never),
    invalidAt('/cells/0/pools/flashSale/maxTreads'),
  );
  assert.throws(() => tune(map, 0, 'nope' as never, {} as never), rejected);
  assert.throws(
    () => tune(map, 7, 'fraud', {}),
    (err: unknown) => CellErrors.CELL_UNKNOWN.is(err),
  );
});

test('operations chain: versions count the changes', () => {
  let map: CellMap = generateMap({ cells: 4, shards: 2 });
  map = addCells(map, 2);
  map = tune(map, 5, 'inventory', { maxQueue: 10 });
  map = failover(map, 0);
  map = moveSlots(map, [0], 1);
  assert.equal(map.version, 5);
  validateCellMap(map);
});
