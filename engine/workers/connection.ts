/**
 * A worker's own Redis connection to its cell's shard, opened once when the worker thread loads, with
 * auto-pipelining so the Lua calls of concurrent tasks share writes. It lives as long as the thread.
 */
import type { Cluster, Redis } from 'ioredis';
import { cellMaster, openShardRedis, type RedisEndpoint } from '../../cells/index.ts';
import { createScripts, type RedisClient, type TitanScripts } from '../../lua/loader.ts';
import { isTitanError } from '../../services/kit/errors.ts';
import { createRedis } from '../../services/kit/redis.ts';
import { ReplyCode } from '../codec.ts';

export interface EngineWorkerData {
  /** The cell id as the Lua keys spell it ("17" -> `{c17}`). */
  readonly cell: string;
  readonly redis: RedisEndpoint;
  /** Cluster shards: WAIT for this many replicas after each write batch (see EngineOptions.replicaWait). */
  readonly replicaWait?: { readonly replicas: number; readonly timeoutMs: number };
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

export function openCellScripts(data: EngineWorkerData): TitanScripts {
  const client =
    'cluster' in data.redis
      ? openShardRedis(data.redis, {
          redis: { maxRetriesPerRequest: 1 },
          cluster: { enableAutoPipelining: true },
        })
      : createRedis(data.redis.url, { maxRetriesPerRequest: 1 });
  // errors surface through the commands of the task that meets them; the listener keeps them off stderr
  client.on('error', () => {});
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
    return [ReplyCode.REFUSED, startedAt, nowMicros(t0), luaCalls, err.code, err.message];
  }
  return [
    ReplyCode.TRANSIENT,
    startedAt,
    nowMicros(t0),
    luaCalls,
    err instanceof Error ? err.message : String(err),
  ];
}
