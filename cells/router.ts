/**
 * A map compiled for the hot path: flat typed arrays built once per map version, so every lookup
 * is a hash plus array reads, with no allocation. Build a new router for each new map version.
 */
import { CellErrors } from './errors.ts';
import { slotOf, slotOfNumber } from './hash.ts';
import type { Cell, CellMap, CellPools, CellStatus, Shard } from './schema.ts';
import { NO_CELL, slotTable } from './slots.ts';
import { servingCell, validateCellMap } from './validate.ts';

/** The Redis Cluster hash tag of a cell's keys: `{c17}:sale:...` keeps all of cell 17 in one cluster slot. */
export function cellHashTag(cell: number): string {
  return `{c${cell}}`;
}

const STATUS: readonly CellStatus[] = ['active', 'draining', 'down'];

export class CellRouter {
  readonly map: CellMap;
  readonly version: number;
  /** Cell ids in map order. */
  readonly cells: readonly number[];
  /** Slot -> owning cell (the slot table, status ignored). */
  readonly #owner: Uint16Array;
  /** Slot -> serving cell (owner, or its backup chain when the owner is down). */
  readonly #route: Uint16Array;
  /** Cell id -> index in #shards / status code / serving cell; NO_CELL for ids not in the map. */
  readonly #shardIndex: Uint16Array;
  readonly #status: Uint8Array;
  readonly #serving: Uint16Array;
  readonly #shards: readonly Shard[];
  readonly #cellById: ReadonlyMap<number, Cell>;
  readonly #tags: readonly string[];
  /** Slot -> 1 while a live move of that slot runs. */
  readonly #migrating: Uint8Array;

  /** `map` must be validated (parseCellMap / loadCellMap / the operations return validated maps). */
  constructor(map: CellMap) {
    validateCellMap(map);
    this.map = map;
    this.version = map.version;
    this.cells = map.cells.map((c) => c.id);
    const size = Math.max(...this.cells) + 1;
    const shardPos = new Map(map.shards.map((s, i) => [s.id, i]));
    this.#shards = map.shards;
    this.#cellById = new Map(map.cells.map((c) => [c.id, c]));
    this.#shardIndex = new Uint16Array(size).fill(NO_CELL);
    this.#status = new Uint8Array(size);
    this.#serving = new Uint16Array(size).fill(NO_CELL);
    const tags: string[] = [];
    for (const c of map.cells) {
      this.#shardIndex[c.id] = shardPos.get(c.shard)!;
      this.#status[c.id] = STATUS.indexOf(c.status);
      this.#serving[c.id] = servingCell(c.id, this.#cellById)!;
      tags[c.id] = cellHashTag(c.id);
    }
    this.#tags = tags;
    this.#owner = slotTable(map);
    this.#migrating = new Uint8Array(map.slotCount);
    for (const r of map.migrating ?? []) this.#migrating.fill(1, r.from, r.to + 1);
    this.#route = this.#owner.map((cell) => this.#serving[cell]!);
  }

  /** True while the slot's users are being moved to another cell (serve them nowhere; they retry). */
  isMigrating(slot: number): boolean {
    return this.#migrating[slot] === 1;
  }

  slotOf(userId: string): number {
    return slotOf(userId);
  }

  /** The cell that owns the user's slot, whatever its status. */
  cellOf(userId: string): number {
    return this.#owner[slotOf(userId)]!;
  }

  /** The cell that serves the user now: the owner, or its backup when the owner is down. */
  route(userId: string): number {
    return this.#route[slotOf(userId)]!;
  }

  /** `route` for numeric ids; the same cell as `route(String(id))`. */
  routeNumber(userId: number): number {
    return this.#route[slotOfNumber(userId)]!;
  }

  routeSlot(slot: number): number {
    return this.#route[slot]!;
  }

  ownerOfSlot(slot: number): number {
    return this.#owner[slot]!;
  }

  /** The physical shard serving the user now (user -> slot -> serving cell -> shard). */
  shardOf(userId: string): Shard {
    return this.#shards[this.#shardIndex[this.#route[slotOf(userId)]!]!]!;
  }

  shardOfCell(cell: number): Shard {
    return this.#shards[this.#shardIndex[this.#known(cell)]!]!;
  }

  cellStatus(cell: number): CellStatus {
    return STATUS[this.#status[this.#known(cell)]!]!;
  }

  /** The cell that serves `cell`'s users: itself, or its backup chain when it is down. */
  servingCellOf(cell: number): number {
    return this.#serving[this.#known(cell)]!;
  }

  backupOf(cell: number): number {
    return this.#cellById.get(this.#known(cell))!.backup;
  }

  pools(cell: number): CellPools {
    return this.#cellById.get(this.#known(cell))!.pools;
  }

  /** `{c17}`, precomputed: the prefix of every Redis key of the cell. */
  hashTag(cell: number): string {
    return this.#tags[this.#known(cell)]!;
  }

  has(cell: number): boolean {
    return (
      Number.isInteger(cell) && cell >= 0 && cell < this.#serving.length && this.#serving[cell] !== NO_CELL
    );
  }

  #known(cell: number): number {
    if (!this.has(cell)) throw CellErrors.CELL_UNKNOWN(`no cell ${cell} in cell map version ${this.version}`);
    return cell;
  }
}

export function createCellRouter(map: CellMap): CellRouter {
  return new CellRouter(map);
}
