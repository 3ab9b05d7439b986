/**
 * Token buckets in edge memory: the cheap first line against floods (no I/O, a few arithmetic
 * operations per request). Limits that must hold across edge processes use the Redis token-bucket
 * script instead (see `RedisRateLimiter`).
 */
import { LRUCache } from 'lru-cache';
import type { TitanScripts } from '../lua/loader.ts';

export interface BucketPolicy {
  /** Burst size. */
  capacity: number;
  /** Sustained rate. */
  refillPerSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #buckets: LRUCache<string, Bucket>;
  readonly #perMs: number;

  constructor(
    readonly policy: BucketPolicy,
    maxKeys = 200_000,
  ) {
    this.#buckets = new LRUCache({ max: maxKeys });
    this.#perMs = policy.refillPerSecond / 1000;
  }

  /** 0 when a token was taken; otherwise how many ms until one is available. */
  take(key: string, now = Date.now(), cost = 1): number {
    let b = this.#buckets.get(key);
    if (!b) {
      b = { tokens: this.policy.capacity, at: now };
      this.#buckets.set(key, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.policy.capacity, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    }
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return 0;
    }
    return Math.ceil((cost - b.tokens) / this.#perMs);
  }

  /** The IETF RateLimit-Policy header value, e.g. `100;w=1`. */
  get policyHeader(): string {
    return `${this.policy.capacity};w=${Math.max(1, Math.round(this.policy.capacity / this.policy.refillPerSecond))}`;
  }
}

/** A token bucket kept in Redis (atomic Lua), so every edge process shares it. */
export class RedisRateLimiter {
  constructor(
    private readonly scripts: (cell: number) => TitanScripts,
    private readonly policy: BucketPolicy & { name: string },
  ) {}

  /** 0 when allowed; otherwise ms to wait. `cell` says which cell's Redis holds the bucket. */
  async take(cell: number, key: string, now = Date.now()): Promise<number> {
    const r = await this.scripts(cell).rateLimit({
      cell: String(cell),
      name: `${this.policy.name}:${key}`,
      capacity: this.policy.capacity,
      refillTokens: this.policy.refillPerSecond,
      refillMs: 1000,
      now,
    });
    return r.allowed ? 0 : Math.max(1, r.retryAfterMs);
  }
}
