/** Pool settings a new cell starts with unless the caller gives its own. */
import type { CellPools } from './schema.ts';

export const DEFAULT_POOLS: CellPools = {
  flashSale: {
    minThreads: 2,
    maxThreads: 4,
    concurrentTasksPerWorker: 4,
    maxQueue: 4096,
    idleTimeoutMs: 30_000,
    batchMaxSize: 64,
    batchMaxWaitMicros: 500,
  },
  inventory: {
    minThreads: 1,
    maxThreads: 2,
    concurrentTasksPerWorker: 4,
    maxQueue: 2048,
    idleTimeoutMs: 30_000,
    batchMaxSize: 32,
    batchMaxWaitMicros: 1000,
  },
  fraud: {
    minThreads: 1,
    maxThreads: 2,
    concurrentTasksPerWorker: 1,
    maxQueue: 2048,
    idleTimeoutMs: 30_000,
    batchMaxSize: 16,
    batchMaxWaitMicros: 2000,
    reviewThreshold: 0.7,
    denyThreshold: 0.9,
  },
};

/** A deep copy, so maps never share mutable settings objects. */
export function copyPools(pools: CellPools): CellPools {
  return { flashSale: { ...pools.flashSale }, inventory: { ...pools.inventory }, fraud: { ...pools.fraud } };
}
