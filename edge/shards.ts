/**
 * The edge's own connections to each shard's Redis (off the purchase path: Redis-backed rate limits
 * and shard health). A shard that stops answering pings marks its cells unavailable, so their users
 * get 503 CELL_UNAVAILABLE at once while everyone else is served as usual.
 */
import { Redis } from 'ioredis';
import type { CellRouter, Shard } from '../cells/index.ts';
import { createScripts, type TitanScripts } from '../lua/loader.ts';
import type { Logger } from '../services/kit/index.ts';

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
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
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
