/**
 * Writes large maps: `cells` cells spread round-robin over `shards` shards, slots split into equal
 * contiguous ranges, each cell backed by the next cell that sits on another shard.
 */
import { copyPools, DEFAULT_POOLS } from './defaults.ts';
import { CellErrors } from './errors.ts';
import type { Cell, CellMap, CellPools, RedisEndpoint, Shard, SlotRange } from './schema.ts';
import { MAX_CELL_ID, SLOT_COUNT } from './schema.ts';
import { validateCellMap } from './validate.ts';

export interface GenerateOptions {
  readonly cells: number;
  readonly shards: number;
  readonly name?: string;
  readonly version?: number;
  readonly pools?: CellPools;
  /** Redis endpoint of shard `i` (0-based); default `redis://redis-s<i>:6379`. */
  readonly redis?: (shard: number) => RedisEndpoint;
  /** PostgreSQL URL of shard `i`; default `postgres://titan@postgres-s<i>:5432/titan`. */
  readonly postgres?: (shard: number) => string;
}

export function generateMap(options: GenerateOptions): CellMap {
  const { cells: n, shards: m } = options;
  if (!Number.isInteger(n) || n < 2 || n > Math.min(SLOT_COUNT, MAX_CELL_ID + 1)) {
    throw CellErrors.CELL_OPERATION_REJECTED(
      `generateMap: cells must be an integer in 2-${SLOT_COUNT}, got ${n}`,
    );
  }
  if (!Number.isInteger(m) || m < 1 || m > n) {
    throw CellErrors.CELL_OPERATION_REJECTED(`generateMap: shards must be an integer in 1-${n}, got ${m}`);
  }
  const redis = options.redis ?? ((i: number) => ({ url: `redis://redis-s${i}:6379` }));
  const postgres = options.postgres ?? ((i: number) => `postgres://titan@postgres-s${i}:5432/titan`);
  const shards: Shard[] = Array.from({ length: m }, (_, i) => ({
    id: `s${i}`,
    redis: redis(i),
    postgres: { url: postgres(i) },
  }));
  const shardOf = (cell: number) => cell % m;
  const cells: Cell[] = Array.from({ length: n }, (_, id) => {
    let backup = (id + 1) % n;
    for (let k = 1; k < n && m > 1; k++) {
      const candidate = (id + k) % n;
      if (shardOf(candidate) !== shardOf(id)) {
        backup = candidate;
        break;
      }
    }
    return {
      id,
      status: 'active',
      backup,
      shard: `s${shardOf(id)}`,
      pools: copyPools(options.pools ?? DEFAULT_POOLS),
    };
  });
  const slots: SlotRange[] = Array.from({ length: n }, (_, id) => ({
    from: Math.floor((id * SLOT_COUNT) / n),
    to: Math.floor(((id + 1) * SLOT_COUNT) / n) - 1,
    cell: id,
  }));
  return validateCellMap({
    name: options.name ?? `generated-${n}x${m}`,
    version: options.version ?? 1,
    slotCount: SLOT_COUNT,
    shards,
    cells,
    slots,
  });
}
