/**
 * The slot table in its two forms: compact ranges in the document, one Uint16 owner per slot in memory.
 * Helpers here assume a validated map (every slot owned exactly once).
 */
import type { CellMap, SlotRange } from './schema.ts';
import { SLOT_COUNT } from './schema.ts';

/** Marks a slot with no owner in a table under construction. */
export const NO_CELL = 0xffff;

/** Slot -> owning cell. */
export function slotTable(map: Pick<CellMap, 'slots'>): Uint16Array {
  const table = new Uint16Array(SLOT_COUNT).fill(NO_CELL);
  for (const r of map.slots) table.fill(r.cell, r.from, r.to + 1);
  return table;
}

/** Runs of equal owners, in slot order: the canonical form written back to the document. */
export function tableToRanges(table: Uint16Array): SlotRange[] {
  const ranges: SlotRange[] = [];
  let from = 0;
  for (let s = 1; s <= table.length; s++) {
    if (s === table.length || table[s] !== table[from]) {
      ranges.push({ from, to: s - 1, cell: table[from]! });
      from = s;
    }
  }
  return ranges;
}

/** Number of slots each cell owns. */
export function slotCounts(table: Uint16Array): Map<number, number> {
  const counts = new Map<number, number>();
  for (let s = 0; s < table.length; s++) {
    const cell = table[s]!;
    counts.set(cell, (counts.get(cell) ?? 0) + 1);
  }
  return counts;
}

/** A run of slots that changes owner between two map versions: what a live move must copy. */
export interface SlotMove {
  readonly from: number;
  readonly to: number;
  readonly fromCell: number;
  readonly toCell: number;
}

/** The slots whose owner differs between `before` and `after`, as runs (owner changes only, not status). */
export function diffSlots(before: Pick<CellMap, 'slots'>, after: Pick<CellMap, 'slots'>): SlotMove[] {
  const a = slotTable(before);
  const b = slotTable(after);
  const moves: SlotMove[] = [];
  let s = 0;
  while (s < SLOT_COUNT) {
    if (a[s] === b[s]) {
      s++;
      continue;
    }
    const from = s;
    const fromCell = a[s]!;
    const toCell = b[s]!;
    while (s < SLOT_COUNT && a[s] === fromCell && b[s] === toCell) s++;
    moves.push({ from, to: s - 1, fromCell, toCell });
  }
  return moves;
}
