/**
 * One flash-sale batch, as the worker thread runs it and as a cell set to `runOn: event-loop` runs it on the
 * edge's own loop: the task array is already the purchase script's ARGV (lua/flash-sale-purchase.ts), run as
 * ONE call; the script's reply goes back as it is, packed, and the dispatcher decodes it. The main thread
 * checked every request by the script's rules, and the script checks again before its first write.
 */
import { flashSalePurchaseChecked } from '../../lua/flash-sale-purchase.ts';
import type { TitanScripts } from '../../lua/loader.ts';
import { clockMs, packMessage, ReplyCode, unpackMessage } from '../codec.ts';
import {
  type EngineWorkerData,
  failureReply,
  nowMicros,
  waitForReplicas,
  withinBudget,
} from './connection.ts';

/** A batch runner bound to one cell's connection; each runner keeps its own WAIT turn order. */
export function flashSaleBatchRunner(
  data: EngineWorkerData,
  scripts: TitanScripts,
): (task: Uint8Array) => Promise<Uint8Array> {
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
   * With WAIT (cluster shards), batches take turns on the connection. WAIT blocks the connection it is sent
   * on: a script sent meanwhile would sit in Redis's input buffer and run after its batch had been answered
   * `retry` at its budget, possibly after its buyers' retries had already been answered for good (a unit
   * reserved for a key nobody will ask about again, held until it expires). A batch runs only once the
   * previous one's script and WAIT are done, and not at all if its budget ran out while it waited.
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

  return async (task) => {
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
    return packMessage(reply);
  };
}
