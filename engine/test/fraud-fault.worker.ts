/**
 * Tests only: the fraud worker with faults injected, chosen by the first request's user id of a batch
 * (`crash*`: the thread exits before the Lua call). Loaded only through `testing.workerFiles`.
 */
import { unpackMessage } from '../codec.ts';
import fraudWorker from '../workers/fraud.worker.ts';

async function faultyFraudBatch(task: Uint8Array): Promise<unknown> {
  const fraudBatch = await fraudWorker;
  const tuple = unpackMessage(task)[3] as unknown[];
  if (String(tuple[0]).startsWith('crash')) process.exit(1);
  return fraudBatch(task);
}

export default fraudWorker.then(() => faultyFraudBatch);
