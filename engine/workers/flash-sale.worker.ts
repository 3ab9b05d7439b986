/**
 * The flash-sale worker: one task is one batch of purchases for one sale in this worker's cell, run as ONE call
 * of flash-sale-purchase. The task array is already the script's ARGV (see codec.ts); the script's reply strings
 * go back as they are and the main thread decodes them. The main thread validated every field with the loader's
 * rules, and the script validates again before its first write.
 */
import { move, workerData } from 'piscina';
import { saleCellKeys } from '../../lua/keys.ts';
import { clockMs, packMessage, ReplyCode, unpackMessage } from '../codec.ts';
import {
  type EngineWorkerData,
  failureReply,
  nowMicros,
  openCellScripts,
  waitForReplicas,
} from './connection.ts';

const data = workerData as EngineWorkerData;
const scripts = openCellScripts(data);

export default async function flashSaleBatch(task: Uint8Array): Promise<ReturnType<typeof move>> {
  const startedAt = clockMs();
  const t0 = performance.now();
  const argv = unpackMessage(task) as (string | number)[];
  const saleId = argv[0] as string;
  argv[1] = Math.floor(startedAt);
  const k = saleCellKeys(data.cell, saleId);
  let reply: unknown[];
  try {
    const results = (await scripts.evalRaw(
      'flash-sale-purchase',
      [k.sale, k.users, k.reservations, k.expiry, k.outbox, k.seq],
      argv,
    )) as string[];
    const wait = data.replicaWait;
    if (wait && (await waitForReplicas(scripts.redis, data.cell, wait)) < wait.replicas) {
      // Applied on the master but not yet on a replica: a failover now could drop it, so nobody is told
      // "reserved". The callers retry with their keys; the replay answers from the record if it survived.
      throw new Error(
        `WAIT: fewer than ${wait.replicas} replicas confirmed the batch within ${wait.timeoutMs} ms`,
      );
    }
    reply = [ReplyCode.OK, startedAt, nowMicros(t0), 1, ...results];
  } catch (err) {
    reply = failureReply(err, startedAt, t0, 1);
  }
  return move(packMessage(reply));
}
