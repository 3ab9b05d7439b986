/** The cells folder's public face: map format, loading, routing, operations and the generator. */
import { fileURLToPath } from 'node:url';

export { copyPools, DEFAULT_POOLS } from './defaults.ts';
export type { CellMapProblem } from './errors.ts';
export { CellErrors } from './errors.ts';
export type { GenerateOptions } from './generate.ts';
export { generateMap } from './generate.ts';
export { crc16, slotOf, slotOfNumber } from './hash.ts';
export type { ParseOptions } from './load.ts';
export { loadCellMap, parseCellMap, resolveShardUrls, serializeCellMap } from './load.ts';
export type { AddCellsOptions, PoolSettingsPatch, SlotSelection } from './operations.ts';
export {
  abortSlotMove,
  addCells,
  beginSlotMove,
  failover,
  finishSlotMove,
  moveSlots,
  setStatus,
  tune,
} from './operations.ts';
export type { Env } from './placeholders.ts';
export { expandPlaceholders } from './placeholders.ts';
export { CellRouter, cellHashTag, createCellRouter } from './router.ts';
export type {
  Cell,
  CellMap,
  CellPools,
  CellStatus,
  FlashSalePoolSettings,
  FraudPoolSettings,
  PoolName,
  PoolSettings,
  RedisEndpoint,
  RunOn,
  Shard,
  SlotRange,
} from './schema.ts';
export { CellMapSchema, MAX_CELL_ID, POOL_LIMITS, POOL_NAMES, RUN_ON, SLOT_COUNT } from './schema.ts';
export type { SimulationOptions, SimulationResult } from './simulation.ts';
export { formatSimulation, simulate } from './simulation.ts';
export type { SlotMove } from './slots.ts';
export { diffSlots, slotCounts, slotTable } from './slots.ts';
export { cellMapProblems, validateCellMap } from './validate.ts';

/** Path of the local default map (4 cells on one Redis and one PostgreSQL). */
export const LOCAL_CELL_MAP_PATH = fileURLToPath(new URL('./maps/local.json', import.meta.url));
export { cellMaster, openShardRedis, ShardClients } from './shard-clients.ts';
