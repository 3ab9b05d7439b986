/**
 * The fraud worker: one task is one batch of scoring requests of this worker's cell. It records the whole batch
 * in the velocity counters with ONE fraud-velocity Lua call (each attempt gets its snapshot, itself included),
 * then scores the batch with engine/fraud's model at the thresholds the task carries (its batch key: the cell's
 * `pools.fraud` thresholds when the batch was formed). The main thread validated every request.
 */
import { move, workerData } from 'piscina';
import { decodeFraudVelocity, fraudVelocityCall, type TitanScripts } from '../../lua/loader.ts';
import {
  clockMs,
  encodeFraudScore,
  type FraudTuple,
  fraudRequestOf,
  packMessage,
  ReplyCode,
  STRIDE,
  TASK_HEADER,
  thresholdsOfKey,
  unpackMessage,
} from '../codec.ts';
import { defaultFraudModel, type FraudInput, type FraudRequest, isSmallAmount } from '../fraud/index.ts';
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
// loaded and validated once per thread; scoring is synchronous, so batches sharing the thread never interleave in it
const model = defaultFraudModel();

async function fraudBatch(task: Uint8Array): Promise<ReturnType<typeof move>> {
  const startedAt = clockMs();
  const t0 = performance.now();
  const msg = unpackMessage(task);
  const n = msg[2] as number;
  const requests: FraudRequest[] = new Array(n);
  const attempts = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = fraudRequestOf(msg[TASK_HEADER + i * STRIDE] as FraudTuple);
    requests[i] = r;
    attempts[i] = {
      userId: r.userId,
      deviceId: r.deviceId,
      ip: r.ip,
      cardFingerprint: r.cardFingerprint,
      small: isSmallAmount(r),
    };
  }
  let reply: unknown[];
  let luaCalls = 0;
  try {
    const { keys, args } = fraudVelocityCall(data.cell, Math.floor(startedAt), attempts);
    luaCalls = 1;
    const flat = (await withinBudget(
      scripts.evalRaw('fraud-velocity', keys, args),
      data.budgetMs,
    )) as number[];
    const velocity = decodeFraudVelocity(flat);
    const inputs: FraudInput[] = new Array(n);
    for (let i = 0; i < n; i++) inputs[i] = { request: requests[i]!, velocity: velocity[i]! };
    const scores = model.scoreBatch(inputs, thresholdsOfKey(msg[0] as string));
    const entries: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) entries[i] = encodeFraudScore(scores[i]!, flat, i);
    reply = [ReplyCode.OK, startedAt, nowMicros(t0), 1, entries];
  } catch (err) {
    reply = failureReply(err, startedAt, t0, luaCalls);
  }
  return move(packMessage(reply));
}

/** Piscina awaits a default export that is a promise: the thread takes tasks once its connection is ready. */
export default openCellScripts(data).then((opened) => {
  scripts = opened;
  return answeringWarmTasks(fraudBatch);
});
