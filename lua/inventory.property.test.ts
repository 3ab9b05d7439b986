/**
 * Random sequences of cart holds, commits, releases, sweeps and stock adjustments against the scripts and a
 * plain TypeScript model: answers and final counts must agree, and available + held + sold per SKU must always
 * equal what the adjustments put in.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { isTitanError } from '../services/kit/errors.ts';
import { inventoryKeys } from './keys.ts';
import type { CartReserveResult, StockAdjustResult, TitanScripts } from './loader.ts';
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

const TTL = 10_000;
const SKUS = ['a', 'b', 'c'];

interface Hold {
  state: 'R' | 'C' | 'X' | 'E';
  exp: number;
  items: { sku: string; quantity: number }[];
}
const STATE_NAMES = { R: 'RESERVED', C: 'COMMITTED', X: 'RELEASED', E: 'EXPIRED' } as const;

class InventoryModel {
  a = new Map<string, number>();
  h = new Map<string, number>();
  s = new Map<string, number>();
  added = new Map<string, number>();
  holds = new Map<string, Hold>();
  adjustments = new Map<
    string,
    { sku: string; mode: string; value: number; before: number; after: number }
  >();
  private add(m: Map<string, number>, sku: string, n: number) {
    m.set(sku, (m.get(sku) ?? 0) + n);
  }
  reserve(holdId: string, now: number, items: { sku: string; quantity: number }[]): CartReserveResult {
    const prev = this.holds.get(holdId);
    if (prev)
      return {
        status: 'DUPLICATE',
        hold: { state: STATE_NAMES[prev.state], expiresAt: prev.exp, items: prev.items },
      };
    const short = items.filter((i) => (this.a.get(i.sku) ?? 0) < i.quantity).map((i) => i.sku);
    if (short.length > 0) return { status: 'OUT_OF_STOCK', skus: short };
    for (const i of items) {
      this.add(this.a, i.sku, -i.quantity);
      this.add(this.h, i.sku, i.quantity);
    }
    this.holds.set(holdId, {
      state: 'R',
      exp: now + TTL,
      items: items.map((i) => ({ sku: i.sku, quantity: i.quantity })),
    });
    return { status: 'RESERVED', expiresAt: now + TTL };
  }
  private close(hold: Hold, state: 'C' | 'X' | 'E') {
    for (const i of hold.items) {
      this.add(this.h, i.sku, -i.quantity);
      this.add(state === 'C' ? this.s : this.a, i.sku, i.quantity);
    }
    hold.state = state;
  }
  settle(op: 'commit' | 'release', holdId: string, now: number): string {
    const hold = this.holds.get(holdId);
    if (!hold) return 'NOT_FOUND';
    if (hold.state === 'C') return op === 'commit' ? 'ALREADY_COMMITTED' : 'COMMITTED';
    if (hold.state === 'X') return op === 'release' ? 'ALREADY_RELEASED' : 'RELEASED';
    if (hold.state === 'E') return 'EXPIRED';
    if (op === 'commit' && now < hold.exp) {
      this.close(hold, 'C');
      return 'COMMITTED';
    }
    this.close(hold, op === 'commit' ? 'E' : 'X');
    return op === 'commit' ? 'EXPIRED' : 'RELEASED';
  }
  sweep(now: number, limit: number) {
    const due = [...this.holds.entries()]
      .filter(([, v]) => v.state === 'R' && v.exp <= now)
      .sort(([x, a], [y, b]) => a.exp - b.exp || (x < y ? -1 : 1));
    for (const [, v] of due.slice(0, limit)) this.close(v, 'E');
    return { expired: Math.min(limit, due.length), more: due.length > limit };
  }
  adjust(
    adjustId: string,
    sku: string,
    mode: 'delta' | 'set',
    value: number,
  ): StockAdjustResult | 'CONFLICT' {
    const prev = this.adjustments.get(adjustId);
    if (prev) {
      if (prev.sku !== sku || prev.mode !== mode || prev.value !== value) return 'CONFLICT';
      return { status: 'DUPLICATE', before: prev.before, after: prev.after };
    }
    const before = this.a.get(sku) ?? 0;
    const after = mode === 'delta' ? before + value : value;
    if (after < 0) return { status: 'INSUFFICIENT', available: before };
    this.a.set(sku, after);
    this.add(this.added, sku, after - before);
    this.adjustments.set(adjustId, { sku, mode, value, before, after });
    return { status: 'ADJUSTED', before, after };
  }
}

const opArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      holdId: fc.constantFrom('h0', 'h1', 'h2', 'h3', 'h4', 'h5'),
      items: fc.uniqueArray(
        fc.record({ sku: fc.constantFrom(...SKUS), quantity: fc.integer({ min: 1, max: 3 }) }),
        {
          minLength: 1,
          maxLength: 3,
          selector: (i) => i.sku,
        },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom('commit' as const, 'release' as const),
      holdId: fc.constantFrom('h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'hx'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('sweep' as const), limit: fc.integer({ min: 1, max: 2 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 8000 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      adjustId: fc.constantFrom('a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'),
      sku: fc.constantFrom(...SKUS),
      mode: fc.constantFrom('delta' as const, 'set' as const),
      value: fc.integer({ min: -4, max: 6 }).filter((v) => v !== 0),
    }),
  },
);

test('cart holds and stock adjustments agree with the reference model', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
      const cell = uid('c');
      const m = new InventoryModel();
      let now = 1_000_000;
      for (const op of ops) {
        if (op.kind === 'reserve') {
          const got = await scripts.cartReserve({
            cell,
            holdId: op.holdId,
            now,
            ttlMs: TTL,
            items: op.items,
          });
          assert.deepEqual(got, m.reserve(op.holdId, now, op.items));
        } else if (op.kind === 'commit') {
          assert.equal(
            await scripts.cartCommit({ cell, holdId: op.holdId, now }),
            m.settle('commit', op.holdId, now),
          );
        } else if (op.kind === 'release') {
          assert.equal(
            await scripts.cartRelease({ cell, holdId: op.holdId, now }),
            m.settle('release', op.holdId, now),
          );
        } else if (op.kind === 'sweep') {
          assert.deepEqual(await scripts.cartSweep({ cell, now, limit: op.limit }), m.sweep(now, op.limit));
        } else if (op.kind === 'tick') {
          now += op.ms;
        } else if (op.kind === 'adjust') {
          const value = op.mode === 'set' ? Math.abs(op.value) : op.value;
          const want = m.adjust(op.adjustId, op.sku, op.mode, value);
          const call = scripts.stockAdjust({
            cell,
            adjustId: op.adjustId,
            sku: op.sku,
            mode: op.mode,
            value,
            reason: 'prop',
            now,
          });
          if (want === 'CONFLICT')
            await assert.rejects(call, (e: unknown) => isTitanError(e) && e.code === 'LUA_CONFLICT');
          else assert.deepEqual(await call, want);
        }
      }
      const inv = await redis.hgetall(inventoryKeys(cell).inventory);
      for (const sku of SKUS) {
        const count = (p: string): number => Number(inv[`${p}:${sku}`] ?? 0);
        const [a, h, s] = [count('a'), count('h'), count('s')];
        assert.deepEqual([a, h, s], [m.a.get(sku) ?? 0, m.h.get(sku) ?? 0, m.s.get(sku) ?? 0]);
        assert.ok(a >= 0 && h >= 0 && s >= 0);
        // conservation: stock only enters or leaves through adjustments
        assert.equal(a + h + s, m.added.get(sku) ?? 0);
      }
    }),
    { numRuns: 40 },
  );
});
