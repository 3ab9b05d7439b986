/**
 * The design-scale simulation behind `simulate.ts`: user balance over cells, users moved when
 * adding cells, and the blast radius of one cell going down. Users are generated, hashed and counted
 * per slot in one pass (never stored), then every question is answered from the per-slot counts.
 */
import { generateMap } from './generate.ts';
import { slotOf } from './hash.ts';
import { addCells, failover } from './operations.ts';
import { CellRouter } from './router.ts';
import { SLOT_COUNT } from './schema.ts';

export type IdKind = 'random' | 'sequential';

export interface SimulationOptions {
  readonly cells: number;
  readonly users: number;
  readonly shards?: number;
  /** Cell counts to add, each measured from the original map. Default [1, 100]. */
  readonly add?: readonly number[];
  /** `random`: 12 base-36 chars from a seeded generator; `sequential`: "1", "2", ... Default random. */
  readonly ids?: IdKind;
  readonly seed?: number;
}

export interface SimulationResult {
  readonly cells: number;
  readonly shards: number;
  readonly users: number;
  readonly ids: IdKind;
  readonly usersPerCell: { readonly max: number; readonly mean: number; readonly min: number };
  readonly add: ReadonlyArray<{
    readonly added: number;
    readonly movedUsers: number;
    readonly movedShare: number;
    readonly idealShare: number;
    /** Users per cell after the addition, max over mean. */
    readonly maxOverMean: number;
  }>;
  readonly blastRadius: {
    /** The cell taken down: the one with the most users (the worst case). */
    readonly cell: number;
    readonly share: number;
    readonly target: number;
    /** Users of other cells whose serving cell changed: must be 0. */
    readonly othersMoved: number;
  };
  readonly elapsedMs: number;
}

/** mulberry32: a tiny seeded generator, so runs are repeatable. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Users per slot for `users` generated ids. */
export function usersPerSlot(users: number, ids: IdKind, seed: number): Float64Array {
  const counts = new Float64Array(SLOT_COUNT);
  const next = random(seed);
  for (let i = 0; i < users; i++) {
    const id =
      ids === 'sequential'
        ? String(i + 1)
        : next().toString(36).padStart(7, '0') + (next() % 60466176).toString(36).padStart(5, '0');
    counts[slotOf(id)]! += 1;
  }
  return counts;
}

function perCell(router: CellRouter, slots: Float64Array): Map<number, number> {
  const users = new Map<number, number>(router.cells.map((c) => [c, 0]));
  for (let s = 0; s < SLOT_COUNT; s++) {
    const cell = router.routeSlot(s);
    users.set(cell, users.get(cell)! + slots[s]!);
  }
  return users;
}

/** Users whose serving cell differs between the two routers, and how many of them were not on `only`. */
function moved(a: CellRouter, b: CellRouter, slots: Float64Array, only?: number): [number, number] {
  let all = 0;
  let others = 0;
  for (let s = 0; s < SLOT_COUNT; s++) {
    if (a.routeSlot(s) === b.routeSlot(s)) continue;
    all += slots[s]!;
    if (a.routeSlot(s) !== only) others += slots[s]!;
  }
  return [all, others];
}

export function simulate(options: SimulationOptions): SimulationResult {
  const started = performance.now();
  const shards = options.shards ?? Math.max(1, Math.min(options.cells, Math.ceil(options.cells / 50)));
  const ids = options.ids ?? 'random';
  const map = generateMap({ cells: options.cells, shards });
  const router = new CellRouter(map);
  const slots = usersPerSlot(options.users, ids, options.seed ?? 1);

  const users = perCell(router, slots);
  const counts = [...users.values()];
  const mean = options.users / options.cells;
  const usersPerCell = { max: Math.max(...counts), mean, min: Math.min(...counts) };

  const add = (options.add ?? [1, 100]).map((added) => {
    const after = new CellRouter(addCells(map, added));
    const [movedUsers] = moved(router, after, slots);
    const afterCounts = [...perCell(after, slots).values()];
    return {
      added,
      movedUsers,
      movedShare: movedUsers / options.users,
      idealShare: added / (options.cells + added),
      maxOverMean: Math.max(...afterCounts) / (options.users / (options.cells + added)),
    };
  });

  let worst = router.cells[0]!;
  for (const [cell, n] of users) if (n > users.get(worst)!) worst = cell;
  const down = new CellRouter(failover(map, worst));
  const [lost, othersMoved] = moved(router, down, slots, worst);

  return {
    cells: options.cells,
    shards,
    users: options.users,
    ids,
    usersPerCell,
    add,
    blastRadius: { cell: worst, share: lost / options.users, target: 1 / options.cells, othersMoved },
    elapsedMs: Math.round(performance.now() - started),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(3)}%`;

/** The result as a small text table. */
export function formatSimulation(r: SimulationResult): string {
  const rows: [string, string][] = [
    [
      'cells / shards / users',
      `${r.cells} / ${r.shards} / ${r.users.toLocaleString('en-US')} (${r.ids} ids)`,
    ],
    [
      'users per cell max / mean / min',
      `${r.usersPerCell.max} / ${r.usersPerCell.mean.toFixed(1)} / ${r.usersPerCell.min}` +
        ` (max ${(r.usersPerCell.max / r.usersPerCell.mean).toFixed(3)}x mean)`,
    ],
    ...r.add.map((a): [string, string] => [
      `add ${a.added} cell${a.added === 1 ? '' : 's'}: users moved`,
      `${pct(a.movedShare)} (ideal ${pct(a.idealShare)}, ratio ${(a.movedShare / a.idealShare).toFixed(3)}; ` +
        `max/mean after ${a.maxOverMean.toFixed(3)})`,
    ]),
    [
      `one cell down (cell ${r.blastRadius.cell}, the largest)`,
      `${pct(r.blastRadius.share)} of users (target ${pct(r.blastRadius.target)}); other cells' users moved: ${r.blastRadius.othersMoved}`,
    ],
    ['elapsed', `${r.elapsedMs} ms`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
