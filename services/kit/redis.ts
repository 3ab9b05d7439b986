/**
 * Redis connections. Auto-pipelining is on: commands issued in the same event-loop turn share one
 * write, which measured as the largest single win for Redis-bound paths on these machines.
 */
import { Redis, type RedisOptions } from 'ioredis';

export type { Redis };

export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    lazyConnect: false,
    ...options,
  });
}
