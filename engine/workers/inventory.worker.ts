/**
 * The inventory worker: one task carries the cart operations (reserve / commit / release) that arrived together
 * for this worker's cell. Each is its own atomic, idempotent Lua call (by hold id); they are issued together, so
 * auto-pipelining sends them in one write. Per operation, the reply holds [0, result] or [1, code, message].
 */
import { move, workerData } from 'piscina';
import type { CartItem, TitanScripts } from '../../lua/loader.ts';
import { isTitanError } from '../../services/kit/errors.ts';
import {
  clockMs,
  InventoryOp,
  packMessage,
  ReplyCode,
  STRIDE,
  TASK_HEADER,
  unpackMessage,
} from '../codec.ts';
import {
  answeringWarmTasks,
  type EngineWorkerData,
  failureReply,
  nowMicros,
  openCellScripts,
  withinBudget,
} from './connection.ts';

const data = workerData as EngineWorkerData;
let scripts: TitanScripts;

function itemsOf(flat: readonly (string | number)[]): CartItem[] {
  const items: CartItem[] = [];
  for (let i = 0; i < flat.length; i += 2)
    items.push({ sku: flat[i] as string, quantity: flat[i + 1] as number });
  return items;
}

function runOne(op: number, holdId: string, ttlMs: number, items: unknown, now: number): Promise<unknown> {
  const cell = data.cell;
  if (op === InventoryOp.RESERVE) {
    return scripts.cartReserve({ cell, holdId, now, ttlMs, items: itemsOf(items as (string | number)[]) });
  }
  if (op === InventoryOp.COMMIT) return scripts.cartCommit({ cell, holdId, now });
  return scripts.cartRelease({ cell, holdId, now });
}

async function inventoryBatch(task: Uint8Array): Promise<ReturnType<typeof move>> {
  const startedAt = clockMs();
  const t0 = performance.now();
  const msg = unpackMessage(task);
  const n = msg[2] as number;
  const now = Math.floor(startedAt);
  const calls: Promise<unknown>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const b = TASK_HEADER + i * STRIDE;
    calls[i] = runOne(msg[b] as number, msg[b + 1] as string, msg[b + 2] as number, msg[b + 3], now);
  }
  let settled: PromiseSettledResult<unknown>[];
  try {
    settled = await withinBudget(Promise.allSettled(calls), data.budgetMs);
  } catch (err) {
    return move(packMessage(failureReply(err, startedAt, t0, n)));
  }
  const entries: unknown[] = [];
  const reply: unknown[] = [ReplyCode.OK, startedAt, 0, n, entries];
  for (const s of settled) {
    if (s.status === 'fulfilled') {
      entries.push([0, s.value]);
    } else if (
      isTitanError(s.reason) &&
      s.reason.code.startsWith('LUA_') &&
      s.reason.code !== 'LUA_SCRIPT_FAILED'
    ) {
      entries.push([1, s.reason.code, s.reason.message]);
    } else {
      // one connection serves every call of the task: a transient failure of one is a failure of the task
      return move(packMessage(failureReply(s.reason, startedAt, t0, n)));
    }
  }
  reply[2] = nowMicros(t0);
  return move(packMessage(reply));
}

/** Piscina awaits a default export that is a promise: the thread takes tasks once its connection is ready. */
export default openCellScripts(data).then((opened) => {
  scripts = opened;
  return answeringWarmTasks(inventoryBatch);
});
