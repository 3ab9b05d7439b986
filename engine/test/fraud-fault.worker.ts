/**
 * Tests only: the fraud worker with faults injected, chosen by the first request's user id of a batch
 * (`crash*`: the thread exits before the Lua call). Loaded only through `testing.workerFiles`.
 */
import { unpackMessage } from '../codec.ts';
import fraudBatch from '../workers/fraud.worker.ts';

export default async function faultyFraudBatch(task: Uint8Array): Promise<unknown> {
  const tuple = unpackMessage(task)[3] as unknown[];
  if (String(tuple[0]).startsWith('crash')) process.exit(1);
  return fraudBatch(task);
}
