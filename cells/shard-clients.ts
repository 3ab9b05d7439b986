/**
 * Connections to each shard's Redis for a process's main thread (off the purchase path: rate limits,
 * control-plane work, reads), with shard health: a shard that stops answering pings marks its cells
 * unavailable, so their users get 503 CELL_UNAVAILABLE at once while everyone else is served as usual.
 */
import { Redis } from 'ioredis';
import { createScripts, type TitanScripts } from '../lua/loader.ts';
import type { Logger } from '../services/kit/index.ts';
import type { CellRouter } from './router.ts';
import type { Shard } from './schema.ts';

interface ShardClient {
  redis: Redis;
  scripts: TitanScripts;
  up: boolean;
}

export class ShardClients {
  readonly #clients = new Map<string, ShardClient>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger) {}

  #client(shard: Shard): ShardClient {
    let c = this.#clients.get(shard.id);
    if (!c) {
      if (!('url' in shard.redis))
        throw new Error(`shard ${shard.id}: Redis Cluster shards are not supported by the edge yet`);
      const redis = new Redis(shard.redis.url, {
        enableAutoPipelining: true,
        // Commands wait for the connection (at start, after a blip), but never longer than a second:
        // a dead shard fails fast and its cells are reported unavailable by the pings.
        enableOfflineQueue: true,
        commandTimeout: 1000,
        maxRetriesPerRequest: 1,
        connectTimeout: 1000,
        retryStrategy: () => 500,
        lazyConnect: false,
      });
      redis.on('error', () => {});
      c = { redis, scripts: createScripts(redis), up: true };
      this.#clients.set(shard.id, c);
    }
    return c;
  }

  redisFor(router: CellRouter, cell: number): Redis {
    return this.#client(router.shardOfCell(cell)).redis;
  }

  scriptsFor(router: CellRouter, cell: number): TitanScripts {
    return this.#client(router.shardOfCell(cell)).scripts;
  }

  /** False while the cell's shard is not answering. */
  cellUp(router: CellRouter, cell: number): boolean {
    return this.#client(router.shardOfCell(cell)).up;
  }

  /** Pings every shard of the map; returns how many answered and which did not. */
  async pingAll(router: CellRouter): Promise<{ up: number; down: string[] }> {
    const shards = new Map(router.map.shards.map((s) => [s.id, s]));
    await Promise.all(
      [...shards.values()].map(async (shard) => {
        const c = this.#client(shard);
        const wasUp = c.up;
        c.up = await Promise.race([
          c.redis.ping().then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((r) => setTimeout(() => r(false), 1000).unref()),
        ]);
        if (wasUp !== c.up)
          this.log.warn({ shard: shard.id, up: c.up }, c.up ? 'shard is back' : 'shard unreachable');
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
