/**
 * Map operations as pure functions: each takes a validated map and returns a new validated map with
 * version + 1, never touching its input. Applying the result (copying slot data, switching routers)
 * is the caller's job; `diffSlots(before, after)` says which slots changed owner.
 */
import { copyPools, DEFAULT_POOLS } from './defaults.ts';
import { CellErrors } from './errors.ts';
import type {
  Cell,
  CellMap,
  CellPools,
  CellStatus,
  FlashSalePoolSettings,
  FraudPoolSettings,
  PoolName,
  PoolSettings,
} from './schema.ts';
import { MAX_CELL_ID, POOL_NAMES, SLOT_COUNT } from './schema.ts';
import { slotTable, tableToRanges } from './slots.ts';
import { validateCellMap } from './validate.ts';

function rejected(message: string, details?: Record<string, unknown>) {
  return CellErrors.CELL_OPERATION_REJECTED(message, details);
}

function next(map: CellMap, changes: Partial<Pick<CellMap, 'cells' | 'slots' | 'migrating'>>): CellMap {
  return validateCellMap({ ...map, ...changes, version: map.version + 1 });
}

function cellIndex(map: CellMap, cell: number): number {
  const i = map.cells.findIndex((c) => c.id === cell);
  if (i < 0) throw CellErrors.CELL_UNKNOWN(`no cell ${cell} in cell map version ${map.version}`);
  return i;
}

function replaceCell(map: CellMap, i: number, cell: Cell): Cell[] {
  return map.cells.map((c, j) => (j === i ? cell : c));
}

export interface AddCellsOptions {
  /** Shard of every new cell; default: each goes to the shard with the fewest cells. */
  readonly shard?: string;
  /** Pool settings of the new cells; default DEFAULT_POOLS. */
  readonly pools?: CellPools;
}

/**
 * Adds `n` active cells (ids after the highest existing one) and gives them slots so that the fewest
 * users move: only slots that go to a new cell move, each new cell gets floor(16384 / (K + n)) slots
 * (K = cells holding slots), taken one at a time from whichever cell holds the most at that moment.
 * A donor gives its highest slots, so ranges stay few and each new cell's slots are mostly contiguous.
 */
export function addCells(map: CellMap, n: number, options: AddCellsOptions = {}): CellMap {
  if (!Number.isInteger(n) || n < 1) throw rejected(`addCells: n must be a positive integer, got ${n}`);
  const firstId = Math.max(...map.cells.map((c) => c.id)) + 1;
  if (firstId + n - 1 > MAX_CELL_ID) throw rejected(`addCells: cell ids would pass ${MAX_CELL_ID}`);
  if (options.shard !== undefined && !map.shards.some((s) => s.id === options.shard)) {
    throw rejected(`addCells: unknown shard "${options.shard}"`);
  }
  const table = slotTable(map);
  const counts = new Map<number, number>();
  for (const cell of table) counts.set(cell, (counts.get(cell) ?? 0) + 1);
  const holders = [...counts.keys()];
  const total = holders.length + n;
  if (total > SLOT_COUNT) throw rejected(`addCells: ${total} cells would leave some without a slot`);

  // New cells get the floor share; the remainder stays with existing cells, which moves fewer slots.
  const base = Math.floor(SLOT_COUNT / total);
  const extraForNew = Math.max(0, (SLOT_COUNT % total) - holders.length);
  const ids = Array.from({ length: n }, (_, k) => firstId + k);
  const wanted = ids.map((_, k) => base + (k < extraForNew ? 1 : 0));
  const need = wanted.reduce((a, b) => a + b, 0);

  const give = new Map<number, number>();
  for (let taken = 0; taken < need; taken++) {
    let donor = -1;
    let most = -1;
    for (const cell of holders) {
      const left = counts.get(cell)!;
      if (left > most || (left === most && cell < donor)) {
        most = left;
        donor = cell;
      }
    }
    counts.set(donor, most - 1);
    give.set(donor, (give.get(donor) ?? 0) + 1);
  }
  const moving: number[] = [];
  for (let s = SLOT_COUNT - 1; s >= 0; s--) {
    const cell = table[s]!;
    const left = give.get(cell) ?? 0;
    if (left > 0) {
      moving.push(s);
      give.set(cell, left - 1);
    }
  }
  moving.sort((a, b) => a - b);
  let at = 0;
  ids.forEach((id, k) => {
    for (let j = 0; j < wanted[k]!; j++) table[moving[at++]!] = id;
  });

  const cells = [...map.cells];
  const shardLoad = new Map(map.shards.map((s) => [s.id, 0]));
  for (const c of cells) shardLoad.set(c.shard, (shardLoad.get(c.shard) ?? 0) + 1);
  for (const id of ids) {
    const shard = options.shard ?? leastLoaded(shardLoad);
    shardLoad.set(shard, shardLoad.get(shard)! + 1);
    cells.push({ id, status: 'active', backup: id, shard, pools: copyPools(options.pools ?? DEFAULT_POOLS) });
  }
  for (let k = cells.length - n; k < cells.length; k++) {
    cells[k] = { ...cells[k]!, backup: chooseBackup(cells, cells[k]!) };
  }
  return next(map, { cells, slots: tableToRanges(table) });
}

function leastLoaded(load: ReadonlyMap<string, number>): string {
  let best = '';
  let min = Number.POSITIVE_INFINITY;
  for (const [shard, n] of load) {
    if (n < min) {
      min = n;
      best = shard;
    }
  }
  return best;
}

/** An active cell on another shard when there is one, backing as few cells as possible; lowest id on ties. */
function chooseBackup(cells: readonly Cell[], cell: Cell): number {
  const backing = new Map<number, number>();
  for (const c of cells) if (c.backup !== c.id) backing.set(c.backup, (backing.get(c.backup) ?? 0) + 1);
  const candidates = cells.filter((c) => c.id !== cell.id && c.status === 'active');
  const elsewhere = candidates.filter((c) => c.shard !== cell.shard);
  const pool = elsewhere.length > 0 ? elsewhere : candidates;
  if (pool.length === 0) throw rejected(`no active cell can back cell ${cell.id}`);
  let best = pool[0]!;
  for (const c of pool) {
    const load = backing.get(c.id) ?? 0;
    const bestLoad = backing.get(best.id) ?? 0;
    if (load < bestLoad || (load === bestLoad && c.id < best.id)) best = c;
  }
  return best.id;
}

export type SlotSelection = readonly number[] | { readonly from: number; readonly to: number };

/** Gives `slots` (a list, or an inclusive range) to `toCell`, which must be active. */
export function moveSlots(map: CellMap, slots: SlotSelection, toCell: number): CellMap {
  const target = map.cells[cellIndex(map, toCell)]!;
  if (target.status !== 'active')
    throw rejected(`cannot move slots to cell ${toCell}: it is ${target.status}`);
  const list = Array.isArray(slots)
    ? (slots as readonly number[])
    : rangeList(slots as { readonly from: number; readonly to: number });
  const table = slotTable(map);
  for (const s of list) {
    if (!Number.isInteger(s) || s < 0 || s >= SLOT_COUNT) {
      throw rejected(`slot ${s} is out of range 0-${SLOT_COUNT - 1}`);
    }
    table[s] = toCell;
  }
  return next(map, { slots: tableToRanges(table) });
}

function rangeList(r: { readonly from: number; readonly to: number }): number[] {
  if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from > r.to) {
    throw rejected(`slot range ${r.from}-${r.to} is not a range`);
  }
  return Array.from({ length: r.to - r.from + 1 }, (_, k) => r.from + k);
}

/** Sets a cell's status. `down` is refused when no cell on its backup chain could serve its users. */
export function setStatus(map: CellMap, cell: number, status: CellStatus): CellMap {
  const i = cellIndex(map, cell);
  const updated = {
    ...map,
    version: map.version + 1,
    cells: replaceCell(map, i, { ...map.cells[i]!, status }),
  };
  try {
    return validateCellMap(updated);
  } catch (err) {
    if (CellErrors.CELL_MAP_INVALID.is(err)) {
      throw rejected(`cannot set cell ${cell} ${status}: ${err.message}`, err.details ?? {});
    }
    throw err;
  }
}

/**
 * Marks `cell` down so its users route to its backup (or on along the backup chain). Only the slots
 * served by `cell` change their serving cell; every other user keeps the cell they had.
 */
export function failover(map: CellMap, cell: number): CellMap {
  const current = map.cells[cellIndex(map, cell)]!;
  if (current.status === 'down') throw rejected(`cell ${cell} is already down`);
  return setStatus(map, cell, 'down');
}

export type PoolSettingsPatch<P extends PoolName> = P extends 'fraud'
  ? Partial<FraudPoolSettings>
  : P extends 'flashSale'
    ? Partial<FlashSalePoolSettings>
    : Partial<PoolSettings>;

/** Changes some settings of one pool of one cell; the merged settings are validated like the whole map. */
export function tune<P extends PoolName>(
  map: CellMap,
  cell: number,
  pool: P,
  patch: PoolSettingsPatch<P>,
): CellMap {
  if (!POOL_NAMES.includes(pool)) throw rejected(`unknown pool "${pool}", expected ${POOL_NAMES.join(', ')}`);
  const i = cellIndex(map, cell);
  const c = map.cells[i]!;
  const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  const pools = { ...c.pools, [pool]: { ...c.pools[pool], ...defined } };
  return next(map, { cells: replaceCell(map, i, { ...c, pools }) });
}

/**
 * First step of a live slot move: marks the range as migrating to `toCell` (the edge stops serving
 * its users until the move finishes). Refused when the target is not active or a slot already moves.
 */
export function beginSlotMove(map: CellMap, range: { from: number; to: number }, toCell: number): CellMap {
  const target = map.cells[cellIndex(map, toCell)]!;
  if (target.status !== 'active')
    throw rejected(`cannot move slots to cell ${toCell}: it is ${target.status}`);
  rangeList(range);
  if (range.to >= SLOT_COUNT) throw rejected(`slot ${range.to} is out of range 0-${SLOT_COUNT - 1}`);
  for (const m of map.migrating ?? []) {
    if (m.from <= range.to && range.from <= m.to)
      throw rejected(`slots ${m.from}-${m.to} are already being moved`);
  }
  return next(map, {
    migrating: [...(map.migrating ?? []), { from: range.from, to: range.to, cell: toCell }],
  });
}

/** Last step of a live slot move: the range belongs to its target cell, and is served again. */
export function finishSlotMove(map: CellMap, range: { from: number; to: number }): CellMap {
  const entry = (map.migrating ?? []).find((m) => m.from === range.from && m.to === range.to);
  if (!entry) throw rejected(`slots ${range.from}-${range.to} are not being moved`);
  const moved = moveSlots(map, range, entry.cell);
  return validateCellMap({
    ...moved,
    version: map.version + 1,
    migrating: (map.migrating ?? []).filter((m) => m !== entry),
  });
}

/** Gives up a live slot move: the range stays with its owner and is served again. */
export function abortSlotMove(map: CellMap, range: { from: number; to: number }): CellMap {
  const rest = (map.migrating ?? []).filter((m) => !(m.from === range.from && m.to === range.to));
  if (rest.length === (map.migrating ?? []).length)
    throw rejected(`slots ${range.from}-${range.to} are not being moved`);
  return next(map, { migrating: rest });
}
