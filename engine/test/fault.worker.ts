/**
 * Tests only: the flash-sale worker with faults injected, chosen by the first request's user id of a batch.
 * The engine loads it only through `testing.workerFiles`; production workers have no such code path.
 *   crashbefore*  the thread exits before the Lua call (nothing applied)
 *   crashafter*   the Lua call runs, then the thread exits before replying (applied, reply lost)
 *   throw*        the task throws before the Lua call
 *   hang*         the task never answers (the engine's task timeout must fire)
 */
import { unpackMessage } from '../codec.ts';
import flashSaleWorker from '../workers/flash-sale.worker.ts';

async function faultyBatch(task: Uint8Array): Promise<unknown> {
  const flashSaleBatch = await flashSaleWorker;
  const user = String(unpackMessage(task)[3]);
  if (user.startsWith('crashbefore')) process.exit(1);
  if (user.startsWith('throw')) throw new Error('injected failure');
  if (user.startsWith('hang')) return new Promise(() => {});
  if (user.startsWith('crashafter')) {
    await flashSaleBatch(task);
    process.exit(1);
  }
  return flashSaleBatch(task);
}

export default flashSaleWorker.then(() => faultyBatch);
