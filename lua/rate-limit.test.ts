import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isTitanError } from '../services/kit/errors.ts';
import { rateLimitKey } from './keys.ts';
import type { TitanScripts } from './loader.ts';
import { connectScripts, snapshotTag, uid } from './test-support.ts';

let scripts: TitanScripts;
let redis: Redis;
before(async () => {
  scripts = await connectScripts();
  redis = scripts.redis as Redis;
});
after(async () => {
  await redis.quit();
});

const T0 = 1_000_000;
async function rejects(p: Promise<unknown>, code: string, field: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) => isTitanError(err) && err.code === code && err.details?.['field'] === field,
  );
}

describe('rate limit (token bucket)', () => {
  test('a full bucket allows `capacity` requests, then denies with the wait until the next token', async () => {
    const cell = uid('c');
    // 3 tokens, one more every 500 ms
    const hit = (now: number, cost = 1) =>
      scripts.rateLimit({ cell, name: 'ip:1', capacity: 3, refillTokens: 1, refillMs: 500, cost, now });
    assert.deepEqual(await hit(T0), { allowed: true, remaining: 2, retryAfterMs: 0 });
    assert.deepEqual(await hit(T0), { allowed: true, remaining: 1, retryAfterMs: 0 });
    assert.deepEqual(await hit(T0), { allowed: true, remaining: 0, retryAfterMs: 0 });
    assert.deepEqual(await hit(T0 + 100), { allowed: false, remaining: 0, retryAfterMs: 400 });
    assert.deepEqual(await hit(T0 + 499), { allowed: false, remaining: 0, retryAfterMs: 1 });
    assert.deepEqual(await hit(T0 + 500), { allowed: true, remaining: 0, retryAfterMs: 0 });
    // a cost of 2 waits for two tokens; a denied request takes nothing
    assert.deepEqual(await hit(T0 + 750, 2), { allowed: false, remaining: 0, retryAfterMs: 750 });
    assert.deepEqual(await hit(T0 + 1500, 2), { allowed: true, remaining: 0, retryAfterMs: 0 });
    // a long idle time refills to capacity, never above it
    assert.deepEqual(await hit(T0 + 3_600_000), { allowed: true, remaining: 2, retryAfterMs: 0 });
  });

  test('a denied request writes nothing; an allowed one sets an expiry beyond the time to full', async () => {
    const cell = uid('c');
    const p = { cell, name: 'u:7', capacity: 1, refillTokens: 1, refillMs: 10_000 };
    assert.equal((await scripts.rateLimit({ ...p, now: T0 })).allowed, true);
    const ttl = await redis.pttl(rateLimitKey(cell, 'u:7'));
    assert.ok(ttl > 10_000 && ttl <= 70_000, `pttl ${ttl}`);
    const snap = await snapshotTag(redis, `{c${cell}}`);
    assert.equal((await scripts.rateLimit({ ...p, now: T0 + 1 })).allowed, false);
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), snap);
  });

  test('a caller clock behind the bucket refills nothing and waits out the difference', async () => {
    const cell = uid('c');
    const p = { cell, name: 'skew', capacity: 2, refillTokens: 1, refillMs: 1000 };
    await scripts.rateLimit({ ...p, now: T0, cost: 2 });
    assert.deepEqual(await scripts.rateLimit({ ...p, now: T0 - 5000 }), {
      allowed: false,
      remaining: 0,
      retryAfterMs: 6000,
    });
    assert.equal((await scripts.rateLimit({ ...p, now: T0 + 999 })).allowed, false);
    assert.equal((await scripts.rateLimit({ ...p, now: T0 + 1000 })).allowed, true);
  });

  test('bad arguments are refused by TypeScript and by the script, writing nothing', async () => {
    const cell = uid('c');
    const ok = { cell, name: 'n', capacity: 5, refillTokens: 1, refillMs: 100, now: T0 };
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'a b' }, 'name'],
      [{ capacity: 0 }, 'capacity'],
      [{ refillTokens: 0 }, 'refillTokens'],
      [{ refillMs: 1e8 }, 'refillMs'],
      [{ cost: 6 }, 'cost'],
      [{ now: 'now' }, 'now'],
      [{ cell: '' }, 'cell'],
    ];
    for (const [patch, field] of cases)
      await rejects(scripts.rateLimit({ ...ok, ...patch } as never), 'LUA_BAD_ARGUMENT', field);
    const key = [rateLimitKey(cell, 'n')];
    const raw: [(string | number)[], string][] = [
      [[T0, 5, 1, 100, 6], 'cost'],
      [[T0, 5, 1, 100, 0], 'cost'],
      [[T0, '5.5', 1, 100, 1], 'capacity'],
      [[T0, 5, -1, 100, 1], 'refillTokens'],
      [[T0, 5, 1, 0, 1], 'refillMs'],
      [['x', 5, 1, 100, 1], 'now'],
    ];
    for (const [args, field] of raw)
      await rejects(scripts.evalRaw('rate-limit', key, args), 'LUA_BAD_ARGUMENT', field);
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), {});
  });
});
