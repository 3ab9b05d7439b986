/**
 * How a cell map's cells land on a Redis Cluster's masters. A cell's keys all carry its hash tag `{c<id>}`, so a
 * cell lives on the master that owns the tag's slot: with `masters` masters owning equal contiguous slot
 * ranges (what `redis-cli --cluster create` makes), this says how many cells, and what share of the users
 * (their cells' slot shares), each master carries.
 */
import { slotOf } from './hash.ts';
import type { CellMap } from './schema.ts';
import { SLOT_COUNT } from './schema.ts';
import { slotCounts, slotTable } from './slots.ts';

export interface ClusterBalance {
  masters: number;
  /** Per master: cells whose tag it owns, and the share of users those cells serve (0..1). */
  perMaster: { cells: number; userShare: number }[];
  /** The busiest master's user share over the mean (1 is perfect balance). */
  maxOverMean: number;
}

/** The master (0-based) that owns `slot` when `masters` masters split the slots as `--cluster create` does. */
export function masterOfSlot(slot: number, masters: number): number {
  // redis-cli ends master i's range at round((i + 1) * 16384 / n - 1); the next one starts after it
  for (let i = masters - 1; i > 0; i--) if (slot >= Math.round((i * SLOT_COUNT) / masters - 1) + 1) return i;
  return 0;
}

export function clusterBalance(map: CellMap, masters: number): ClusterBalance {
  const perMaster = Array.from({ length: masters }, () => ({ cells: 0, userShare: 0 }));
  const counts = slotCounts(slotTable(map));
  for (const cell of map.cells) {
    const m = perMaster[masterOfSlot(slotOf(`c${cell.id}`), masters)]!;
    m.cells++;
    m.userShare += (counts.get(cell.id) ?? 0) / map.slotCount;
  }
  const mean = 1 / masters;
  return { masters, perMaster, maxOverMean: Math.max(...perMaster.map((m) => m.userShare)) / mean };
}
