/**
 * The flash-sale worker: one task is one batch of purchases for one sale in this worker's cell, run as ONE call
 * of flash-sale-purchase. The task array is already the script's ARGV (lua/flash-sale-purchase.ts); the
 * script's reply goes back as it is and the main thread decodes it. The main thread checked every request by
 * the script's rules, and the script checks again before its first write.
 */
import { move, workerData } from 'piscina';
import { flashSalePurchaseChecked } from '../../lua/flash-sale-purchase.ts';
import type { TitanScripts } from '../../lua/loader.ts';
import { clockMs, packMessage, ReplyCode, unpackMessage } from '../codec.ts';
import {
  answeringWarmTasks,
  type EngineWorkerData,
  failureReply,
  nowMicros,
  openCellScripts,
  waitForReplicas,
  withinBudget,
} from './connection.ts';

const data = workerData as EngineWorkerData;
let scripts: TitanScripts;

/** The batch's one script call, then (cluster shards) its WAIT: the reply, or a throw when unconfirmed. */
async function purchase(argv: (string | number)[]): Promise<string[]> {
  const reply = await flashSalePurchaseChecked(scripts.evalRaw, data.cell, argv);
  const wait = data.replicaWait;
  if (wait && (await waitForReplicas(scripts.redis, data.cell, wait)) < wait.replicas) {
    // Applied on the master but not yet on a replica: a failover now could drop it, so nobody is told
    // "reserved". The callers retry with their keys; the replay answers from the record if it survived.
    throw new Error(
      `WAIT: fewer than ${wait.replicas} replicas confirmed the batch within ${wait.timeoutMs} ms`,
    );
  }
  return reply;
}

/**
 * With WAIT (cluster shards), batches take turns on the connection. WAIT blocks the connection it is sent on:
 * a script sent meanwhile would sit in Redis's input buffer and run after its batch had been answered `retry`
 * at its budget, possibly after its buyers' retries had already been answered for good (a unit reserved for
 * a key nobody will ask about again, held until it expires). A batch runs only once the previous one's script
 * and WAIT are done, and not at all if its budget ran out while it waited.
 */
let previous: Promise<unknown> = Promise.resolve();

function purchaseInTurn(argv: (string | number)[], deadline: number): Promise<string[]> {
  const run = previous.then(() => {
    if (performance.now() >= deadline)
      throw new Error('the batch budget ran out before the connection was free');
    argv[1] = Math.floor(clockMs());
    return purchase(argv);
  });
  previous = run.catch(() => {});
  return run;
}

async function flashSaleBatch(task: Uint8Array): Promise<ReturnType<typeof move>> {
  const startedAt = clockMs();
  const t0 = performance.now();
  const argv = unpackMessage(task) as (string | number)[];
  argv[1] = Math.floor(startedAt);
  let reply: unknown[];
  try {
    const work = data.replicaWait ? purchaseInTurn(argv, t0 + data.budgetMs) : purchase(argv);
    const results = await withinBudget(work, data.budgetMs);
    reply = [ReplyCode.OK, startedAt, nowMicros(t0), 1, results];
  } catch (err) {
    reply = failureReply(err, startedAt, t0, 1);
  }
  return move(packMessage(reply));
}

/** Piscina awaits a default export that is a promise: the thread takes tasks once its connection is ready. */
export default openCellScripts(data).then((opened) => {
  scripts = opened;
  return answeringWarmTasks(flashSaleBatch);
});
