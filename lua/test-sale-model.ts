/**
 * The flash-sale property, shared by the single-server test (flash-sale.property.test.ts) and the Redis Cluster
 * test (cluster.test.ts): random sequences of purchase batches, commits, releases, sweeps and quota transfers
 * between the sale's pool ({fs:<sale>}) and a cell ({c<cell>}) (some interrupted by a simulated crash, then
 * recovered), run against the scripts and against a plain TypeScript model of the same rules: every answer and
 * the final state must agree, and the sale must balance after every step.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { configureSaleCell, createSale, readSaleLedger } from './admin.ts';
import { saleCellKeys } from './keys.ts';
import type { PurchaseResult, QuotaSide, RecordedPurchase, RedisClient, TitanScripts } from './loader.ts';
import { recoverTransfers, type ScriptsForSide, transferQuota } from './quota-transfer.ts';
import { uid } from './test-support.ts';

export interface SalePropertyTarget {
  /** The scripts of each side: one object (a single server, or a whole cluster) or a resolver. */
  readonly scripts: ScriptsForSide;
  /** A client that reaches both the pool's and the cell's keys (ledger reads, state checks). */
  readonly redis: RedisClient;
  /** Fresh ids for each run (random by default): a cluster test picks ids whose tags sit on different masters. */
  readonly ids?: () => { saleId: string; cell: string };
}

const side = (scripts: ScriptsForSide, s: QuotaSide): TitanScripts =>
  typeof scripts === 'function' ? scripts(s) : scripts;

const START = 1_000_000;
const END = 1_300_000;
const TTL = 20_000;
const LIMIT = 3;
const INITIAL = 20;

interface Rsv {
  state: 'R' | 'C' | 'X' | 'E';
  user: string;
  qty: number;
  exp: number;
}

/** The reference model: the rules of flash-sale-purchase, reservation-settle and reservation-sweep. */
class SaleModel {
  q = 0;
  r = 0;
  s = 0;
  pool = INITIAL;
  seq = 0;
  held = new Map<string, number>();
  recorded = new Map<string, { res: RecordedPurchase; qty: number }>();
  rsv = new Map<string, Rsv>();

  purchase(now: number, reqs: { userId: string; quantity: number; idempotencyKey: string; at: number }[]) {
    return reqs.map((x): PurchaseResult => {
      if (x.at < START) return { status: 'not_started' };
      if (x.at >= END) return { status: 'ended' };
      const key = `${x.userId}:${x.idempotencyKey}`;
      const first = this.recorded.get(key);
      if (first !== undefined) {
        return first.qty === x.quantity
          ? { status: 'duplicate', original: first.res }
          : { status: 'key_reused' };
      }
      const h = this.held.get(x.userId) ?? 0;
      let res: RecordedPurchase;
      if (h + x.quantity > LIMIT) res = { status: 'limit_reached' };
      else if (this.q < x.quantity) res = { status: 'sold_out' };
      else {
        this.seq++;
        this.q -= x.quantity;
        this.r += x.quantity;
        this.held.set(x.userId, h + x.quantity);
        const id = String(this.seq);
        this.rsv.set(id, { state: 'R', user: x.userId, qty: x.quantity, exp: now + TTL });
        res = { status: 'reserved', reservationId: id, expiresAt: now + TTL };
      }
      if (res.status !== 'sold_out') this.recorded.set(key, { res, qty: x.quantity });
      return res;
    });
  }
  private giveBack(v: Rsv, state: 'X' | 'E') {
    v.state = state;
    this.q += v.qty;
    this.r -= v.qty;
    const h = (this.held.get(v.user) ?? 0) - v.qty;
    if (h <= 0) this.held.delete(v.user);
    else this.held.set(v.user, h);
  }
  settle(op: 'commit' | 'release', id: string, now: number): string {
    const v = this.rsv.get(id);
    if (v === undefined) return 'NOT_FOUND';
    if (v.state === 'C') return op === 'commit' ? 'ALREADY_COMMITTED' : 'COMMITTED';
    if (v.state === 'X') return op === 'release' ? 'ALREADY_RELEASED' : 'RELEASED';
    if (v.state === 'E') return 'EXPIRED';
    if (op === 'commit' && now < v.exp) {
      v.state = 'C';
      this.r -= v.qty;
      this.s += v.qty;
      return 'COMMITTED';
    }
    this.giveBack(v, op === 'commit' ? 'E' : 'X');
    return op === 'commit' ? 'EXPIRED' : 'RELEASED';
  }
  sweep(now: number, limit: number) {
    const due = [...this.rsv.entries()]
      .filter(([, v]) => v.state === 'R' && v.exp <= now)
      // the expiry index orders by expiry, then by member (lexicographic rid)
      .sort(([a, x], [b, y]) => x.exp - y.exp || (a < b ? -1 : 1));
    const now_ = due.slice(0, limit);
    for (const [, v] of now_) this.giveBack(v, 'E');
    return { expired: now_.length, more: due.length > limit };
  }
}

const users = ['u0', 'u1', 'u2', 'u3'];
const opArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('buy' as const),
      reqs: fc.array(
        fc.record({
          userId: fc.constantFrom(...users),
          quantity: fc.integer({ min: 1, max: 3 }),
          idempotencyKey: fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6'),
          early: fc.integer({ min: 0, max: 9 }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constantFrom('commit' as const, 'release' as const), pick: fc.nat(40) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('sweep' as const), limit: fc.integer({ min: 1, max: 2 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 30_000 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('transfer' as const),
      toCell: fc.boolean(),
      amount: fc.integer({ min: 1, max: 6 }),
      crashAfterDebit: fc.boolean(),
    }),
  },
);

/** Runs the property `numRuns` times; fast-check reports a shrunk counterexample when a rule breaks. */
export async function checkSaleAgainstModel(target: SalePropertyTarget, numRuns: number): Promise<void> {
  const { scripts, redis } = target;
  const ids = target.ids ?? (() => ({ saleId: uid('s'), cell: uid('c') }));
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
      const { saleId, cell } = ids();
      const onCell = side(scripts, { cell });
      await createSale(side(scripts, 'pool').redis, { saleId, initial: INITIAL });
      await configureSaleCell(onCell.redis, {
        cell,
        saleId,
        startsAt: START,
        endsAt: END,
        perUserLimit: LIMIT,
        reservationTtlMs: TTL,
      });
      const m = new SaleModel();
      let now = START - 5_000;
      let transfers = 0;
      for (const op of ops) {
        if (op.kind === 'buy') {
          const reqs = op.reqs.map((x) => ({ ...x, at: x.early === 0 ? START - 1 : now }));
          const got = await onCell.flashSalePurchase({ cell, saleId, now, requests: reqs });
          assert.deepEqual(got, m.purchase(now, reqs));
        } else if (op.kind === 'commit' || op.kind === 'release') {
          const id = String(1 + (op.pick % (m.seq + 2)));
          const ref = { cell, saleId, reservationId: id, now };
          const got =
            op.kind === 'commit' ? await onCell.reservationCommit(ref) : await onCell.reservationRelease(ref);
          assert.equal(got, m.settle(op.kind, id, now));
        } else if (op.kind === 'sweep') {
          assert.deepEqual(
            await onCell.reservationSweep({ cell, saleId, now, limit: op.limit }),
            m.sweep(now, op.limit),
          );
        } else if (op.kind === 'tick') {
          now += op.ms;
        } else if (op.kind === 'transfer') {
          const transferId = `t${transfers++}`;
          const t = {
            saleId,
            transferId,
            amount: op.amount,
            from: op.toCell ? ('pool' as const) : { cell },
            to: op.toCell ? { cell } : ('pool' as const),
            now,
          };
          const available = op.toCell ? m.pool : m.q;
          if (op.crashAfterDebit) {
            // the mover dies after step 1; recovery finishes the transfer
            const d = await side(scripts, t.from).quotaDebit(t);
            assert.equal(d.status, available >= op.amount ? 'DEBITED' : 'INSUFFICIENT');
            if (d.status === 'DEBITED') {
              const l = await readSaleLedger(redis, saleId, [cell]);
              assert.equal(l.inFlight, op.amount);
              assert.equal(l.balanced, true);
              const rec = await recoverTransfers(scripts, { saleId, cells: [cell], now, minAgeMs: 0 });
              assert.deepEqual(rec, [{ transferId, from: t.from, status: 'DONE' }]);
            }
          } else {
            const r = await transferQuota(scripts, t);
            assert.deepEqual(
              r,
              available >= op.amount ? { status: 'DONE' } : { status: 'INSUFFICIENT', available },
            );
          }
          if (available >= op.amount) {
            m.pool += op.toCell ? -op.amount : op.amount;
            m.q += op.toCell ? op.amount : -op.amount;
          }
        }
        const l = await readSaleLedger(redis, saleId, [cell]);
        assert.equal(l.balanced, true);
        assert.equal(l.inFlight, 0);
        assert.deepEqual([l.pool, l.cells[cell]?.quota, l.reserved, l.sold], [m.pool, m.q, m.r, m.s]);
      }
      // drain: everything still reserved expires, one per sweep call
      now += TTL;
      for (;;) {
        const got = await onCell.reservationSweep({ cell, saleId, now, limit: 1 });
        assert.deepEqual(got, m.sweep(now, 1));
        if (!got.more) break;
      }
      const k = saleCellKeys(cell, saleId);
      const stored = await onCell.redis.hgetall(k.users);
      const heldStored = Object.fromEntries(Object.entries(stored).filter(([f]) => !f.includes(':')));
      assert.deepEqual(heldStored, Object.fromEntries([...m.held].map(([u, n]) => [u, String(n)])));
      const live = [...m.rsv].filter(([, v]) => v.state === 'R').map(([id]) => id);
      assert.deepEqual((await onCell.redis.zrange(k.expiry, 0, -1)).sort(), live.sort());
    }),
    { numRuns },
  );
}
