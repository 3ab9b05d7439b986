/**
 * The flash-sale worker thread: one task is one batch of purchases for one sale in this worker's cell, run by
 * flash-sale-batch.ts on the thread's own connection; the packed reply is moved back, not copied.
 */
import { move, workerData } from 'piscina';
import { answeringWarmTasks, type EngineWorkerData, openCellScripts } from './connection.ts';
import { flashSaleBatchRunner } from './flash-sale-batch.ts';

const data = workerData as EngineWorkerData;

/** Piscina awaits a default export that is a promise: the thread takes tasks once its connection is ready. */
export default openCellScripts(data).then((scripts) => {
  const run = flashSaleBatchRunner(data, scripts);
  return answeringWarmTasks(async (task: Uint8Array) => move(await run(task)));
});
