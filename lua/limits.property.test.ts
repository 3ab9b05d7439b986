/**
 * Random sequences against the voucher, rate-limit and idempotency-record scripts, each compared with a plain
 * TypeScript model of its rules.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { defineVoucher } from './admin.ts';
import type {
  IdempotencyBeginResult,
  IdempotencyEndStatus,
  RateLimitResult,
  TitanScripts,
  VoucherClaimStatus,
} from './loader.ts';
import { connectScripts, uid } from './test-support.ts';

let scripts: TitanScripts;
let redis: Redis;
before(async () => {
  scripts = await connectScripts();
  redis = scripts.redis as Redis;
});
after(async () => {
  await redis.quit();
});

test('voucher claims and unclaims agree with the reference model', async () => {
  const START = 1000;
  const END = 2000;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 1, max: 2 }),
      fc.array(
        fc.record({
          unclaim: fc.boolean(),
          orderId: fc.constantFrom('o0', 'o1', 'o2', 'o3', 'o4', 'o5'),
          userId: fc.constantFrom('u0', 'u1', 'u2'),
          now: fc.integer({ min: 900, max: 2100 }),
        }),
        { minLength: 1, maxLength: 25 },
      ),
      async (limit, perUser, ops) => {
        const voucherId = uid('v');
        await defineVoucher(redis, { voucherId, limit, perUserLimit: perUser, startsAt: START, endsAt: END });
        let used = 0;
        const byUser = new Map<string, number>();
        const orders = new Map<string, { claimed: boolean; userId: string }>();
        for (const op of ops) {
          if (op.unclaim) {
            const o = orders.get(op.orderId);
            let want = 'NOT_FOUND';
            if (o?.claimed === false) want = 'ALREADY_RELEASED';
            else if (o) {
              want = 'RELEASED';
              o.claimed = false;
              used--;
              byUser.set(o.userId, byUser.get(o.userId)! - 1);
            }
            assert.equal(await scripts.voucherUnclaim({ voucherId, orderId: op.orderId }), want);
            continue;
          }
          const o = orders.get(op.orderId);
          let want: VoucherClaimStatus;
          if (o)
            want =
              o.userId !== op.userId ? 'ORDER_CONFLICT' : o.claimed ? 'ALREADY_CLAIMED' : 'ORDER_RELEASED';
          else if (op.now < START) want = 'NOT_STARTED';
          else if (op.now >= END) want = 'ENDED';
          else if (used >= limit) want = 'EXHAUSTED';
          else if ((byUser.get(op.userId) ?? 0) >= perUser) want = 'LIMIT_REACHED';
          else {
            want = 'CLAIMED';
            used++;
            byUser.set(op.userId, (byUser.get(op.userId) ?? 0) + 1);
            orders.set(op.orderId, { claimed: true, userId: op.userId });
          }
          assert.equal(
            await scripts.voucherClaim({ voucherId, orderId: op.orderId, userId: op.userId, now: op.now }),
            want,
          );
          assert.ok(used <= limit);
        }
        assert.equal(Number(await redis.hget(`{vc:${voucherId}}:v`, 'used')), used);
      },
    ),
    { numRuns: 40 },
  );
});

/** The token bucket with the same exact integer rules as rate-limit.lua (level in 1/refillMs token units). */
class Bucket {
  private lv: number | undefined;
  private ts = 0;
  constructor(
    private readonly cap: number,
    private readonly rt: number,
    private readonly rms: number,
  ) {}
  hit(now: number, cost: number): RateLimitResult {
    const capU = this.cap * this.rms;
    const costU = cost * this.rms;
    let lv = capU;
    let ts = now;
    if (this.lv !== undefined) {
      lv = Math.min(this.lv, capU);
      ts = this.ts;
      if (now > ts) {
        lv = Math.min(capU, lv + (now - ts) * this.rt);
        ts = now;
      }
    }
    if (lv < costU) {
      const wait = Math.ceil((costU - lv) / this.rt) + Math.max(0, ts - now);
      return { allowed: false, remaining: Math.floor(lv / this.rms), retryAfterMs: wait };
    }
    this.lv = lv - costU;
    this.ts = ts;
    return { allowed: true, remaining: Math.floor(this.lv / this.rms), retryAfterMs: 0 };
  }
}

test('the token bucket agrees with the reference model, and a denied retry after retryAfterMs is allowed', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        capacity: fc.integer({ min: 1, max: 10 }),
        refillTokens: fc.integer({ min: 1, max: 5 }),
        refillMs: fc.integer({ min: 1, max: 2000 }),
      }),
      fc.array(
        fc.record({ dt: fc.integer({ min: -50, max: 1500 }), cost: fc.integer({ min: 1, max: 10 }) }),
        {
          minLength: 1,
          maxLength: 40,
        },
      ),
      async (p, hits) => {
        const cell = uid('c');
        const model = new Bucket(p.capacity, p.refillTokens, p.refillMs);
        let now = 1_000_000;
        for (const h of hits) {
          now += h.dt;
          const cost = Math.min(h.cost, p.capacity);
          const got = await scripts.rateLimit({ cell, name: 'b', ...p, cost, now });
          assert.deepEqual(got, model.hit(now, cost));
          assert.ok(got.remaining <= p.capacity);
          if (!got.allowed) {
            // the promised wait is enough: retrying after retryAfterMs is allowed
            const later = await scripts.rateLimit({
              cell,
              name: 'b',
              ...p,
              cost,
              now: now + got.retryAfterMs,
            });
            assert.deepEqual(later, model.hit(now + got.retryAfterMs, cost));
            assert.equal(later.allowed, true);
            now += got.retryAfterMs;
          }
        }
      },
    ),
    { numRuns: 40 },
  );
});

test('the idempotency record agrees with the reference model of begin / complete / abort', async () => {
  type Rec =
    | { done: false; fp: string; tok: string; le: number }
    | { done: true; fp: string; code: number; body: string };
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.record({
            kind: fc.constant('begin' as const),
            fp: fc.constantFrom('f0', 'f1'),
            lease: fc.integer({ min: 1, max: 500 }),
          }),
          fc.record({
            kind: fc.constantFrom('complete' as const, 'abort' as const),
            tokenPick: fc.nat(10),
            code: fc.integer({ min: 200, max: 503 }),
          }),
          fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 400 }) }),
        ),
        { minLength: 1, maxLength: 30 },
      ),
      async (ops) => {
        const ref = { cell: uid('c'), scope: 'prop', key: 'k' };
        let rec: Rec | undefined;
        let now = 1_000_000;
        const tokens: string[] = [];
        for (const op of ops) {
          if (op.kind === 'tick') {
            now += op.ms;
          } else if (op.kind === 'begin') {
            const token = `t${tokens.length}`;
            tokens.push(token);
            let want: IdempotencyBeginResult;
            if (rec && rec.fp !== op.fp) want = { status: 'MISMATCH' };
            else if (rec?.done) want = { status: 'REPLAY', httpStatus: rec.code, body: rec.body };
            else if (rec && now < rec.le) want = { status: 'IN_FLIGHT', retryAfterMs: rec.le - now };
            else {
              want = { status: 'STARTED' };
              rec = { done: false, fp: op.fp, tok: token, le: now + op.lease };
            }
            assert.deepEqual(
              await scripts.idempotencyBegin({ ...ref, fingerprint: op.fp, token, leaseMs: op.lease, now }),
              want,
            );
          } else {
            const token = tokens.length === 0 ? 'none' : tokens[op.tokenPick % tokens.length]!;
            let want: IdempotencyEndStatus;
            if (rec?.done) want = 'ALREADY_COMPLETED';
            else if (!rec || rec.tok !== token) want = 'LEASE_LOST';
            else if (op.kind === 'abort') {
              want = 'ABORTED';
              rec = undefined;
            } else {
              want = 'STORED';
              rec = { done: true, fp: rec.fp, code: op.code, body: `body-${op.code}` };
            }
            const got =
              op.kind === 'abort'
                ? await scripts.idempotencyAbort({ ...ref, token })
                : await scripts.idempotencyComplete({
                    ...ref,
                    token,
                    status: op.code,
                    body: `body-${op.code}`,
                    ttlMs: 600_000,
                  });
            assert.equal(got, want);
          }
        }
      },
    ),
    { numRuns: 40 },
  );
});
