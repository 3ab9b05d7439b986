/**
 * fraud-velocity: the sliding-window counters of engine/fraud's VELOCITY_COUNTERS, recorded and read for a batch
 * of scoring attempts in one call; failures recorded apart; windows, expiry, the per-set cap, refusals that
 * write nothing, and random sequences compared with a TypeScript reference model of the script's rules.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { VELOCITY_COUNTERS } from '../engine/fraud/index.ts';
import { isTitanError } from '../services/kit/errors.ts';
import { fraudFailuresKey, fraudKeys, fraudSeqKey } from './keys.ts';
import {
  FRAUD_COUNTERS,
  FRAUD_SET_CAP,
  FRAUD_WINDOWS_MS,
  type FraudAttempt,
  type FraudVelocity,
  fraudVelocityCall,
  MAX_FRAUD_BATCH,
  type TitanScripts,
} from './loader.ts';
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

const T0 = 1_000_000_000;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const attempt = (over: Partial<FraudAttempt> = {}): FraudAttempt => ({
  userId: 'u1',
  deviceId: 'd1',
  ip: '203.0.113.7',
  cardFingerprint: 'card-1',
  small: false,
  ...over,
});

async function rejects(p: Promise<unknown>, code: string, field: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) => isTitanError(err) && err.code === code && err.details?.['field'] === field,
    `expected ${code} ${field}`,
  );
}

describe('fraud velocity counters', () => {
  test('the reply carries exactly the counters and windows of VELOCITY_COUNTERS, in their order', () => {
    assert.deepEqual(
      FRAUD_COUNTERS,
      VELOCITY_COUNTERS.map((c) => c.name),
    );
    for (const c of VELOCITY_COUNTERS) assert.equal(FRAUD_WINDOWS_MS[c.name], c.windowSeconds * 1000, c.name);
    const k = fraudKeys('17', { userId: 'U', deviceId: 'D', ip: 'I', cardFingerprint: 'C' });
    const byName = Object.fromEntries(
      VELOCITY_COUNTERS.map((c) => [
        c.name,
        c.key
          .replace('<cell>', '17')
          .replace('<userId>', 'U')
          .replace('<deviceId>', 'D')
          .replace('<ip>', 'I')
          .replace('<cardFingerprint>', 'C'),
      ]),
    );
    assert.deepEqual(
      [k.attempts, k.attempts, k.deviceCards, k.deviceUsers, k.ipUsers, k.cardSmall, k.failures],
      FRAUD_COUNTERS.map((n) => byName[n]),
    );
  });

  test('one batch counts each attempt with every earlier one of the batch, itself included', async () => {
    const cell = uid('c');
    const out = await scripts.fraudVelocity({
      cell,
      now: T0,
      attempts: [
        attempt(),
        attempt({ cardFingerprint: 'card-2' }),
        attempt({ userId: 'u2', cardFingerprint: 'card-2' }),
        attempt({ cardFingerprint: 'card-1', small: true }),
        attempt({ userId: 'u3', deviceId: 'd2', ip: '198.51.100.1', small: true }),
      ],
    });
    const pick = (v: FraudVelocity) => FRAUD_COUNTERS.map((n) => v[n]);
    // 1m, 1h, device cards, device users, ip users, card small, failures
    assert.deepEqual(out.map(pick), [
      [1, 1, 1, 1, 1, 0, 0],
      [2, 2, 2, 1, 1, 0, 0],
      [1, 1, 2, 2, 2, 0, 0],
      [3, 3, 2, 2, 2, 1, 0],
      [1, 1, 1, 1, 1, 2, 0],
    ]);
  });

  test('windows slide: an entry counts while its time > now - window', async () => {
    const cell = uid('c');
    const one = async (now: number, over: Partial<FraudAttempt> = {}) =>
      (await scripts.fraudVelocity({ cell, now, attempts: [attempt(over)] }))[0]!;
    await one(T0, { small: true });
    let v = await one(T0 + MIN - 1, { small: true });
    assert.deepEqual([v.userAttempts1m, v.userAttempts1h, v.cardSmallAttempts10m], [2, 2, 2]);
    v = await one(T0 + MIN);
    assert.deepEqual([v.userAttempts1m, v.userAttempts1h, v.cardSmallAttempts10m], [2, 3, 0]);
    v = await one(T0 + 10 * MIN, { small: true });
    assert.equal(v.cardSmallAttempts10m, 2, 'the first small attempt has left the 10 min window');
    v = await one(T0 + HOUR, { userId: 'u9' });
    assert.equal(v.ipDistinctUsers1h, 2, 'u1 was last seen from the IP 50 min ago');
    assert.equal(v.deviceDistinctUsers24h, 2);
    v = await one(T0 + 10 * MIN + HOUR, { userId: 'u9' });
    assert.deepEqual([v.ipDistinctUsers1h, v.deviceDistinctUsers24h], [1, 2]);
    v = await one(T0 + 10 * MIN + DAY, { userId: 'u9' });
    assert.deepEqual([v.deviceDistinctUsers24h, v.deviceDistinctCards24h, v.userAttempts1h], [1, 1, 1]);
  });

  test('re-seeing a card refreshes it; an older clock never moves its last-seen back', async () => {
    const cell = uid('c');
    const at = (now: number, cardFingerprint: string) =>
      scripts.fraudVelocity({ cell, now, attempts: [attempt({ cardFingerprint })] });
    await at(T0, 'A');
    await at(T0 + 10, 'B');
    await at(T0 + DAY - 5, 'A');
    await at(T0 + 100, 'A'); // a caller whose clock is behind
    const v = (await at(T0 + DAY + 150, 'C'))[0]!;
    assert.equal(v.deviceDistinctCards24h, 2, 'A (last seen at T0 + DAY - 5, not T0 + 100) and C; B expired');
  });

  test('failures are recorded apart, once per failure id, and read by scoring without being recorded', async () => {
    const cell = uid('c');
    const fail = (failureId: string, now: number) =>
      scripts.fraudRecordFailure({ cell, userId: 'u1', failureId, now });
    assert.equal(await fail('pay-1', T0), 1);
    assert.equal(await fail('pay-2', T0 + 1000), 2);
    assert.equal(await fail('pay-1', T0 + 2000), 2, 'a redelivered failure counts once');
    const read = async (now: number) =>
      (await scripts.fraudVelocity({ cell, now, attempts: [attempt()] }))[0]!.userFailedPayments24h;
    assert.equal(await read(T0 + 3000), 2);
    assert.equal(await read(T0 + 3000), 2, 'scoring does not add failures');
    assert.equal(await read(T0 + DAY), 1, 'pay-1 (first seen at T0) left the window');
    const other = await scripts.fraudVelocity({
      cell,
      now: T0 + 3000,
      attempts: [attempt({ userId: 'u2' })],
    });
    assert.equal(other[0]!.userFailedPayments24h, 0);
  });

  test('every key expires after its longest window; a non-small attempt leaves the card untouched', async () => {
    const cell = uid('c');
    await scripts.fraudVelocity({ cell, now: Date.now(), attempts: [attempt()] });
    const k = fraudKeys(cell, attempt());
    assert.equal(await redis.exists(k.cardSmall), 0);
    await scripts.fraudVelocity({ cell, now: Date.now(), attempts: [attempt({ small: true })] });
    await scripts.fraudRecordFailure({ cell, userId: 'u1', failureId: 'f', now: Date.now() });
    const ttl = async (key: string) => redis.pttl(key);
    for (const [key, window] of [
      [k.attempts, HOUR],
      [k.deviceCards, DAY],
      [k.deviceUsers, DAY],
      [k.ipUsers, HOUR],
      [k.cardSmall, 10 * MIN],
      [k.failures, DAY],
    ] as const) {
      const t = await ttl(key);
      assert.ok(t > window - 5000 && t <= window, `${key}: pttl ${t}, window ${window}`);
    }
  });

  test(`a set never holds more than ${FRAUD_SET_CAP} entries: the oldest go, the counter saturates`, async () => {
    const cell = uid('c');
    const cards = FRAUD_SET_CAP + 2 * MAX_FRAUD_BATCH;
    let last: FraudVelocity | undefined;
    for (let b = 0; b < cards / MAX_FRAUD_BATCH; b++) {
      const out = await scripts.fraudVelocity({
        cell,
        now: T0 + b,
        attempts: Array.from({ length: MAX_FRAUD_BATCH }, (_, i) =>
          attempt({ cardFingerprint: `card-${b * MAX_FRAUD_BATCH + i}` }),
        ),
      });
      last = out.at(-1);
    }
    const k = fraudKeys(cell, attempt());
    assert.equal(last!.deviceDistinctCards24h, FRAUD_SET_CAP);
    assert.equal(last!.userAttempts1h, FRAUD_SET_CAP);
    assert.equal(await redis.zcard(k.deviceCards), FRAUD_SET_CAP);
    assert.equal(await redis.zcard(k.attempts), FRAUD_SET_CAP);
    assert.equal(await redis.zscore(k.deviceCards, 'card-0'), null, 'the oldest card was dropped');
    assert.notEqual(await redis.zscore(k.deviceCards, `card-${cards - 1}`), null);
  });

  test('bad arguments are refused by TypeScript and by the script, writing nothing', async () => {
    const cell = uid('c');
    await scripts.fraudVelocity({ cell, now: T0, attempts: [attempt()] });
    const before = await snapshotTag(redis, `{c${cell}}`);
    const ts: [Parameters<TitanScripts['fraudVelocity']>[0], string][] = [
      [{ cell, now: -1, attempts: [attempt()] }, 'now'],
      [{ cell: 'a b', now: T0, attempts: [attempt()] }, 'cell'],
      [{ cell, now: T0, attempts: [] }, 'requests'],
      [{ cell, now: T0, attempts: [attempt(), attempt({ userId: 'has space' })] }, 'requests[1].userId'],
      [{ cell, now: T0, attempts: [attempt({ deviceId: '' })] }, 'requests[0].deviceId'],
      [{ cell, now: T0, attempts: [attempt({ ip: 'x'.repeat(65) })] }, 'requests[0].ip'],
      [{ cell, now: T0, attempts: [attempt({ cardFingerprint: 'é' })] }, 'requests[0].cardFingerprint'],
      [{ cell, now: T0, attempts: [{ ...attempt(), small: 1 as unknown as boolean }] }, 'requests[0].small'],
    ];
    for (const [input, field] of ts) await rejects(scripts.fraudVelocity(input), 'LUA_BAD_ARGUMENT', field);
    await assert.rejects(
      scripts.fraudVelocity({
        cell,
        now: T0,
        attempts: Array.from({ length: MAX_FRAUD_BATCH + 1 }, () => attempt()),
      }),
      (err: unknown) => isTitanError(err) && err.code === 'LUA_BATCH_TOO_LARGE',
    );
    await rejects(
      scripts.fraudRecordFailure({ cell, userId: 'u1', failureId: '', now: T0 }),
      'LUA_BAD_ARGUMENT',
      'failureId',
    );

    // the script's own checks, reached by bypassing the loader: a bad field late in the batch writes nothing
    const call = fraudVelocityCall(cell, T0, [attempt(), attempt(), attempt()]);
    const script = (mutate: (keys: string[], args: (string | number)[]) => void) => {
      const keys = [...call.keys];
      const args = [...call.args];
      mutate(keys, args);
      return scripts.evalRaw('fraud-velocity', keys, args);
    };
    const lua: [(keys: string[], args: (string | number)[]) => void, string][] = [
      [(_, a) => (a[0] = 'bogus'), 'mode'],
      [(_, a) => (a[1] = '1.5'), 'now'],
      [(_, a) => (a[2] = 0), 'requests'],
      [(_, a) => a.push('extra'), 'requests'],
      [(k) => k.pop(), 'KEYS'],
      [(_, a) => (a[3 + 3 * 2] = 'x y'), 'requests[2].userId'],
      [(_, a) => (a[4 + 3 * 2] = 'c'.repeat(129)), 'requests[2].cardFingerprint'],
      [(_, a) => (a[5 + 3 * 2] = 2), 'requests[2].small'],
    ];
    for (const [mutate, field] of lua) await rejects(script(mutate), 'LUA_BAD_ARGUMENT', field);
    await assert.rejects(
      script((k, a) => {
        a[2] = MAX_FRAUD_BATCH + 1;
        for (let i = 3; i <= MAX_FRAUD_BATCH + 1; i++) {
          a.push('u', 'c', 0);
          k.push(...call.keys.slice(1, 7));
        }
      }),
      (err: unknown) => isTitanError(err) && err.code === 'LUA_BATCH_TOO_LARGE',
    );
    await rejects(
      scripts.evalRaw('fraud-velocity', [fraudKeys(cell, attempt()).failures], ['fail', T0, 'f', 'x']),
      'LUA_BAD_ARGUMENT',
      'ARGV',
    );
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), before);
    assert.equal(await redis.get(fraudSeqKey(cell)), '1');
  });
});

// ------------------------------------------------------------------------------------------------------------
// Reference model: the script's rules on plain Maps (member -> ms), cap and ties included.
// ------------------------------------------------------------------------------------------------------------

class ReferenceVelocity {
  readonly #sets = new Map<string, Map<string, number>>();
  #seq = 0;

  score(cell: string, now: number, attempts: readonly FraudAttempt[]): FraudVelocity[] {
    const first = this.#seq;
    this.#seq += attempts.length;
    return attempts.map((a, i) => {
      const k = fraudKeys(cell, a);
      const id = String(first + i + 1);
      const h1 = this.#record(k.attempts, now, HOUR, 'plain', id);
      return {
        userAttempts1m: this.#count(k.attempts, now - MIN),
        userAttempts1h: h1,
        deviceDistinctCards24h: this.#record(k.deviceCards, now, DAY, 'GT', a.cardFingerprint),
        deviceDistinctUsers24h: this.#record(k.deviceUsers, now, DAY, 'GT', a.userId),
        ipDistinctUsers1h: this.#record(k.ipUsers, now, HOUR, 'GT', a.userId),
        cardSmallAttempts10m: a.small ? this.#record(k.cardSmall, now, 10 * MIN, 'plain', id) : 0,
        userFailedPayments24h: this.#count(k.failures, now - DAY),
      };
    });
  }

  fail(key: string, now: number, failureId: string): number {
    return this.#record(key, now, DAY, 'NX', failureId);
  }

  #record(key: string, now: number, window: number, mode: 'plain' | 'GT' | 'NX', member: string): number {
    let s = this.#sets.get(key);
    if (s === undefined) {
      s = new Map();
      this.#sets.set(key, s);
    }
    for (const [m, t] of s) if (t <= now - window) s.delete(m);
    const old = s.get(member);
    if (old === undefined || mode === 'plain' || (mode === 'GT' && now > old)) s.set(member, now);
    if (s.size > FRAUD_SET_CAP) {
      const order = [...s].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      for (const [m] of order.slice(0, s.size - FRAUD_SET_CAP)) s.delete(m);
    }
    return s.size;
  }

  #count(key: string, since: number): number {
    let n = 0;
    for (const t of this.#sets.get(key)?.values() ?? []) if (t > since) n++;
    return n;
  }
}

test('random batches and failures agree with the reference model', async () => {
  const id = (prefix: string, n: number) => fc.integer({ min: 0, max: n - 1 }).map((i) => `${prefix}${i}`);
  const attemptArb = fc.record({
    userId: id('u', 4),
    deviceId: id('d', 3),
    ip: id('10.0.0.', 3),
    cardFingerprint: id('k', 5),
    small: fc.boolean(),
  });
  // time jumps land on and next to the windows' edges, run long gaps, and sometimes go back (callers' clocks)
  const dt = fc.oneof(
    fc.integer({ min: -MIN, max: MIN }),
    fc.constantFrom(-10 * MIN, MIN - 1, MIN, 10 * MIN - 1, 10 * MIN, HOUR - 1, HOUR, DAY - 1, DAY),
    fc.integer({ min: 0, max: 2 * HOUR }),
  );
  const step = fc.oneof(
    fc.record({
      kind: fc.constant('score' as const),
      dt,
      attempts: fc.array(attemptArb, { minLength: 1, maxLength: MAX_FRAUD_BATCH }),
    }),
    fc.record({ kind: fc.constant('fail' as const), dt, userId: id('u', 4), failureId: id('f', 6) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
      const cell = uid('c');
      const ref = new ReferenceVelocity();
      let now = T0;
      for (const s of steps) {
        now = Math.max(0, now + s.dt);
        if (s.kind === 'score') {
          const got = await scripts.fraudVelocity({ cell, now, attempts: s.attempts });
          assert.deepEqual(got, ref.score(cell, now, s.attempts));
        } else {
          const got = await scripts.fraudRecordFailure({ ...s, cell, now });
          assert.equal(got, ref.fail(fraudFailuresKey(cell, s.userId), now, s.failureId));
        }
      }
    }),
    { numRuns: 100 },
  );
});
