/** Pool settings of the bench's cell map: read them, and write a new map version with every cell's flash-sale pool patched. */
import { writeFileSync } from 'node:fs';
import {
  type CellMap,
  type FlashSalePoolSettings,
  loadCellMap,
  type PoolSettings,
  serializeCellMap,
  tune,
} from '../../cells/index.ts';

export type FlashSalePoolPatch = Partial<
  Pick<
    FlashSalePoolSettings,
    'minThreads' | 'maxThreads' | 'concurrentTasksPerWorker' | 'batchMaxSize' | 'batchMaxWaitMicros' | 'runOn'
  >
>;

export function flashSalePools(mapFile: string): PoolSettings {
  return loadCellMap(mapFile, { env: false }).cells[0]!.pools.flashSale;
}

/** Writes the next map version with `patch` applied to every cell's flash-sale pool; returns the new map. */
export function patchFlashSalePools(mapFile: string, patch: FlashSalePoolPatch): CellMap {
  let map = loadCellMap(mapFile, { env: false });
  for (const cell of map.cells) map = tune(map, cell.id, 'flashSale', patch);
  writeFileSync(mapFile, serializeCellMap(map));
  return map;
}
