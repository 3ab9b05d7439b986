/**
 * A worker's own Redis connection to its cell's shard, opened once when the worker thread loads (before it
 * takes tasks), with auto-pipelining so the Lua calls of concurrent tasks share writes. It lives as long as
 * the thread.
 */
import type { Cluster, Redis } from 'ioredis';
import { cellMaster, openShardRedis, type RedisEndpoint } from '../../cells/index.ts';
import { createScripts, type RedisClient, type TitanScripts } from '../../lua/loader.ts';
import { isTitanError } from '../../services/kit/errors.ts';
import { createRedis } from '../../services/kit/redis.ts';
import { within } from '../../services/kit/within.ts';
import { ReplyCode, WARM_TASK_BYTES } from '../codec.ts';

export interface EngineWorkerData {
  /** The cell id as the Lua keys spell it ("17" -> `{c17}`). */
  readonly cell: string;
  readonly redis: RedisEndpoint;
  /** Cluster shards: WAIT for this many replicas after each write batch (see EngineOptions.replicaWait). */
  readonly replicaWait?: { readonly replicas: number; readonly timeoutMs: number };
  /** How long a task may wait on Redis before it answers retry itself (see withinBudget). */
  readonly budgetMs: number;
}

/**
 * `work` bounded by the task's budget: past it, the task answers TRANSIENT (callers get `retry`, which their
 * idempotency keys make safe even if the work lands later). Without it a call that keeps retrying a dead node
 * (a cluster master until its replica takes over) ran into the pool's task timeout, which ends the whole
 * thread: every batch sharing it failed, and the replacement took seconds to start.
 */
export function withinBudget<T>(work: Promise<T>, budgetMs: number): Promise<T> {
  return within(work, budgetMs, `Redis did not answer within the task's budget of ${budgetMs} ms`);
}

/**
 * `WAIT replicas timeoutMs` on the connection that ran the writes of cell `cell` (on a cluster: the master of
 * the cell's hash tag, whose connection carried the script call). Resolves with the replicas that confirmed.
 */
export async function waitForReplicas(
  redis: RedisClient,
  cell: string,
  wait: { readonly replicas: number; readonly timeoutMs: number },
): Promise<number> {
  let node: Redis | undefined = redis as Redis;
  if (redis.isCluster) {
    const owner = cellMaster(redis as Cluster, cell);
    node = (redis as Cluster).nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  }
  if (!node) return 0;
  return Number(await node.wait(wait.replicas, wait.timeoutMs));
}

/**
 * How long a starting worker waits for its connection before it takes tasks. Piscina hands a thread tasks only
 * once its module has loaded, so a thread added under load does not take purchases it cannot run yet (a Redis
 * Cluster client first reads the slot map and connects to every master; on a busy machine that took seconds).
 * If the shard stays unreachable the thread starts anyway and its tasks fail fast as `redis_unavailable`.
 */
export const CONNECT_WAIT_MS = 2000;

function connected(client: RedisClient, withinMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, withinMs);
    client.once('ready', done);
  });
}

/** The worker's scripts on its cell's shard, once the connection is ready (or CONNECT_WAIT_MS has passed). */
export async function openCellScripts(data: EngineWorkerData): Promise<TitanScripts> {
  const client =
    'cluster' in data.redis
      ? openShardRedis(data.redis, {
          // WAIT must end on the server before the client gives up on it: a timed-out WAIT would leave the
          // connection blocked under the next batch's script.
          redis: {
            maxRetriesPerRequest: 1,
            ...(data.replicaWait ? { commandTimeout: data.replicaWait.timeoutMs + 1000 } : {}),
          },
          cluster: { enableAutoPipelining: true },
        })
      : createRedis(data.redis.url, { maxRetriesPerRequest: 1 });
  // errors surface through the commands of the task that meets them; the listener keeps them off stderr
  client.on('error', () => {});
  await connected(client, CONNECT_WAIT_MS);
  // From here on a cluster client never holds a command while it reconnects (a whole-cluster reconnect, seen
  // on a loaded machine, takes seconds): the command fails at once and its batch answers retry. A held command
  // would run whenever the client was back, long after its batch was answered, possibly after its buyers'
  // retries had been answered for good: a unit reserved for a key nobody asks about again. (A single
  // server's client queues until its one reconnect attempt fails; maxRetriesPerRequest bounds that.)
  if (client.isCluster) client.options.enableOfflineQueue = false;
  return createScripts(client);
}

export function nowMicros(startMs: number): number {
  return Math.round((performance.now() - startMs) * 1000);
}

/** Script errors that judge the request itself; anything else (connection, LOADING, OOM, ...) is transient. */
const REFUSING = new Set([
  'LUA_BAD_ARGUMENT',
  'LUA_NOT_FOUND',
  'LUA_BATCH_TOO_LARGE',
  'LUA_CONFLICT',
  'FRAUD_INVALID_INPUT',
  'FRAUD_INVALID_THRESHOLDS',
]);

/** The reply header + payload of a task that failed as a whole. */
export function failureReply(err: unknown, startedAt: number, t0: number, luaCalls: number): unknown[] {
  if (isTitanError(err) && REFUSING.has(err.code)) {
    return [ReplyCode.REFUSED, startedAt, nowMicros(t0), luaCalls, [err.code, err.message]];
  }
  return [
    ReplyCode.TRANSIENT,
    startedAt,
    nowMicros(t0),
    luaCalls,
    [err instanceof Error ? err.message : String(err)],
  ];
}

/** A worker's task handler that also answers the pool's warm-up task (an empty one) without touching Redis. */
export function answeringWarmTasks<R>(
  handler: (task: Uint8Array) => Promise<R>,
): (task: Uint8Array) => Promise<R | Uint8Array> {
  return (task) => (task.byteLength === WARM_TASK_BYTES ? Promise.resolve(new Uint8Array(0)) : handler(task));
}
