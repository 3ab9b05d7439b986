/**
 * Connections to each shard's Redis for a process's main thread (off the purchase path: rate limits,
 * control-plane work, reads), with shard health: a shard that stops answering pings marks its cells
 * unavailable, so their users get 503 CELL_UNAVAILABLE at once while everyone else is served as usual.
 * A shard is one Redis server (`{ url }`) or a Redis Cluster (`{ cluster: [seeds] }`); scripts run unchanged
 * on both because each call's keys share one hash tag.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { createScripts, masterNodes, type RedisClient, type TitanScripts } from '../lua/loader.ts';
import type { Logger } from '../services/kit/index.ts';
import { CellErrors } from './errors.ts';
import { slotOf } from './hash.ts';
import type { CellRouter } from './router.ts';
import type { RedisEndpoint, Shard } from './schema.ts';

/**
 * Commands wait for the connection (at start, after a blip), but never longer than a second: a dead shard
 * fails fast and its cells are reported unavailable by the pings.
 */
const NODE_OPTIONS = {
  enableAutoPipelining: true,
  commandTimeout: 1000,
  maxRetriesPerRequest: 1,
  connectTimeout: 1000,
} satisfies RedisOptions;

/** Credentials and TLS of a cluster's seed URL, which every node the client discovers needs too. */
function seedAuth(seed: string): RedisOptions {
  const u = new URL(seed);
  const out: RedisOptions = {};
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') out.tls = {};
  return out;
}

/**
 * A client for a shard's Redis: a `Redis` for `{ url }`, an ioredis `Cluster` for `{ cluster: seeds }` (reads and
 * writes on masters, so a script's reads see its own writes; MOVED / ASK / CLUSTERDOWN during a failover or
 * resharding are retried by the client). `options` overrides the defaults of either kind.
 */
export function openShardRedis(
  endpoint: RedisEndpoint,
  options: { redis?: RedisOptions; cluster?: ClusterOptions } = {},
): RedisClient {
  if ('url' in endpoint) {
    return new Redis(endpoint.url, {
      ...NODE_OPTIONS,
      enableOfflineQueue: true,
      retryStrategy: () => 500,
      lazyConnect: false,
      ...options.redis,
    });
  }
  return new Cluster(endpoint.cluster, {
    scaleReads: 'master',
    // Off by default on a cluster: with it, a MOVED reply inside an auto-pipeline that mixes slots was seen
    // to fail the relay's cursor reads for good; the engine's workers turn it on for their one cell's calls.
    enableAutoPipelining: false,
    enableOfflineQueue: true,
    clusterRetryStrategy: () => 500,
    slotsRefreshTimeout: 1000,
    // A MOVED reply inside an auto-pipeline that also holds successful writes is not redirected by ioredis
    // (nor does it refresh the slot map), so a stale map (after a failover, a resharding, or a map read while
    // the cluster was still converging) would fail those commands for good: refresh it periodically.
    slotsRefreshInterval: 2000,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    // A command to a dead master fails after ~3 tries (~0.2 s) instead of 16 (about a second each, up to the
    // command timeout): callers skip that cell and go on (the control plane's step serves the other cells' top-
    // ups; a worker's batch answers retry). MOVED and ASK need one redirection each.
    maxRedirections: 3,
    ...options.cluster,
    redisOptions: { ...NODE_OPTIONS, ...seedAuth(endpoint.cluster[0]!), ...options.redis },
  });
}

const nodeKey = (n: Redis) => `${n.options.host}:${n.options.port}`;

/** The master (`host:port`) a Cluster client routes cell `cell`'s keys (tag `{c<cell>}`) to, from its slot map. */
export function cellMaster(cluster: Cluster, cell: number | string): string | undefined {
  return cluster.slots[slotOf(`c${cell}`)]?.[0];
}

/**
 * Which servers of the shard do not answer a ping within a second: none or the server itself ("") for a single
 * Redis, the masters that do not (by `host:port`) for a cluster.
 */
async function silentNodes(redis: RedisClient): Promise<Set<string>> {
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 1000).unref());
  let nodes: Redis[];
  try {
    const listed = await Promise.race([masterNodes(redis), timeout]);
    if (listed === 'timeout') return new Set(['']);
    nodes = listed;
  } catch {
    return new Set(['']);
  }
  const silent = new Set<string>();
  await Promise.all(
    nodes.map(async (n) => {
      const ok = await Promise.race([
        n.ping().then(
          () => true,
          () => false,
        ),
        timeout,
      ]);
      if (ok !== true) silent.add(redis.isCluster ? nodeKey(n) : '');
    }),
  );
  return silent;
}

interface ShardClient {
  redis: RedisClient;
  scripts: TitanScripts;
  /** The whole shard answers (for a cluster: every master). */
  up: boolean;
  /** Cluster masters that did not answer the last ping (`host:port`). */
  silent: Set<string>;
}

export class ShardClients {
  readonly #clients = new Map<string, ShardClient>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger) {}

  #client(shard: Shard): ShardClient {
    let c = this.#clients.get(shard.id);
    if (!c) {
      const redis = openShardRedis(shard.redis);
      redis.on('error', () => {});
      c = { redis, scripts: createScripts(redis), up: true, silent: new Set() };
      this.#clients.set(shard.id, c);
    }
    return c;
  }

  /** The client of the cell's shard: a `Redis` or, for a cluster shard, a `Cluster`. */
  clientFor(router: CellRouter, cell: number): RedisClient {
    return this.#client(router.shardOfCell(cell)).redis;
  }

  /**
   * The cell shard's client where a single server is required (callers typed for `Redis` only). A cluster
   * shard is refused with CELL_SHARD_UNSUPPORTED: such callers move to `clientFor`.
   */
  redisFor(router: CellRouter, cell: number): Redis {
    const shard = router.shardOfCell(cell);
    const redis = this.#client(shard).redis;
    if (redis instanceof Redis) return redis;
    throw CellErrors.CELL_SHARD_UNSUPPORTED(
      `shard ${shard.id} of cell ${cell} is a Redis Cluster: this caller needs a single Redis (use clientFor)`,
      { shard: shard.id, cell },
    );
  }

  scriptsFor(router: CellRouter, cell: number): TitanScripts {
    return this.#client(router.shardOfCell(cell)).scripts;
  }

  /**
   * False while the cell's data is not reachable: its shard's server does not answer or, on a Redis Cluster,
   * the master serving the cell's hash tag `{c<cell>}` does not (the other masters' cells stay up).
   */
  cellUp(router: CellRouter, cell: number): boolean {
    const c = this.#client(router.shardOfCell(cell));
    if (c.up) return true;
    if (!c.redis.isCluster || c.silent.has('')) return false;
    const owner = cellMaster(c.redis as Cluster, cell);
    return owner !== undefined && !c.silent.has(owner);
  }

  /** Pings every shard of the map; returns how many answered and which did not. */
  async pingAll(router: CellRouter): Promise<{ up: number; down: string[] }> {
    const shards = new Map(router.map.shards.map((s) => [s.id, s]));
    await Promise.all(
      [...shards.values()].map(async (shard) => {
        const c = this.#client(shard);
        const wasUp = c.up;
        c.silent = await silentNodes(c.redis);
        c.up = c.silent.size === 0;
        if (wasUp !== c.up)
          this.log.warn(
            { shard: shard.id, up: c.up, silent: [...c.silent] },
            c.up ? 'shard is back' : 'shard unreachable',
          );
      }),
    );
    const down = [...shards.keys()].filter((id) => !this.#clients.get(id)?.up);
    return { up: shards.size - down.length, down };
  }

  /** Pings every shard of the current map each `intervalMs`. */
  monitor(currentRouter: () => CellRouter, intervalMs = 1000): void {
    const tick = () => {
      this.pingAll(currentRouter()).finally(() => {
        this.#timer = setTimeout(tick, intervalMs);
        this.#timer.unref();
      });
    };
    tick();
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    await Promise.all(
      [...this.#clients.values()].map((c) => c.redis.quit().catch(() => c.redis.disconnect())),
    );
  }
}
