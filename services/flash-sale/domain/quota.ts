/**
 * Quota arithmetic, pure: how a sale's stock is split over cells, and which transfers the rebalancer
 * makes while the sale runs. The invariant every transfer keeps (they are atomic per side and logged):
 * sold + reserved + sum(cell quotas) + pool == stock.
 */

/** Initial split: each cell gets stock * share (largest-remainder rounding) minus a reserve left in the pool. */
export function initialSplit(
  stock: number,
  shares: ReadonlyMap<number, number>,
  poolFraction: number,
): Map<number, number> {
  const distributable = Math.floor(stock * (1 - poolFraction));
  const total = [...shares.values()].reduce((a, b) => a + b, 0);
  const exact = [...shares].map(([cell, share]) => ({
    cell,
    want: total > 0 ? (distributable * share) / total : 0,
  }));
  const out = new Map(exact.map((e) => [e.cell, Math.floor(e.want)]));
  let left = distributable - [...out.values()].reduce((a, b) => a + b, 0);
  for (const e of [...exact].sort((a, b) => b.want - Math.floor(b.want) - (a.want - Math.floor(a.want)))) {
    if (left <= 0) break;
    out.set(e.cell, out.get(e.cell)! + 1);
    left--;
  }
  return out;
}

export interface CellQuota {
  cell: number;
  /** Units the cell can still sell. */
  quota: number;
  /** Units the cell sold or reserved since the last look (its demand). */
  demand: number;
}

export interface Transfer {
  from: number | 'pool';
  to: number | 'pool';
  amount: number;
}

/**
 * One rebalancing step. Cells running low (below `lowWatermark` and with demand) are topped up from
 * the pool, by their recent demand; when the pool is empty, cells without demand give half their quota
 * back to the pool, so the next step can hand it to the cells that sell. Every unit therefore ends up
 * where buyers are, whichever cells they are in.
 */
export function rebalance(pool: number, cells: readonly CellQuota[], lowWatermark: number): Transfer[] {
  const transfers: Transfer[] = [];
  const needy = cells
    .filter((c) => c.quota < lowWatermark && c.demand > 0)
    .sort((a, b) => b.demand - a.demand);
  let available = pool;
  for (const c of needy) {
    if (available <= 0) break;
    const amount = Math.min(available, Math.max(lowWatermark, c.demand * 2));
    transfers.push({ from: 'pool', to: c.cell, amount });
    available -= amount;
  }
  if (available <= 0 && needy.length > 0) {
    for (const c of cells) {
      if (c.demand === 0 && c.quota > 0) {
        transfers.push({ from: c.cell, to: 'pool', amount: Math.ceil(c.quota / 2) });
      }
    }
  }
  return transfers;
}
