/**
 * Worker failures through the real engine, with the fault-injecting worker (test/fault.worker.ts): a crash
 * before or after the Lua call, a throw, a hang. The batch's callers get a retriable result quickly, later
 * requests succeed, and the sale's ledger stays balanced.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Engine, PurchaseOutcome } from '../index.ts';
import { closeTestScripts, ledger, openSale, reservations, testEngine, testMap } from './support.ts';

after(closeTestScripts);

const FAULT_WORKER = new URL('./fault.worker.ts', import.meta.url);

describe('engine worker failures', () => {
  let engine: Engine;
  let cell: number;
  let cells: [number, number];
  let sale: { saleId: string; at: number };

  before(async () => {
    const t = testMap({ flashSale: { minThreads: 2, maxThreads: 2, concurrentTasksPerWorker: 2 } });
    cells = t.cells;
    cell = cells[0];
    engine = testEngine(t.map, {
      // generous: on a loaded 2-core machine a crash must be seen as a crash, not outrun by the timeout
      taskTimeoutMs: 4000,
      testing: { workerFiles: { flashSale: FAULT_WORKER } },
    }).engine;
    sale = await openSale(cell, { initial: 100, quota: 100, perUserLimit: 1 });
    // start the workers first: a cold start on a busy machine must not count against the task timeout
    await Promise.all(
      ['warm1', 'warm2'].map((userId) =>
        engine.flashSale(cell, {
          saleId: sale.saleId,
          userId,
          quantity: 1,
          idempotencyKey: 'k1',
          at: sale.at,
        }),
      ),
    );
  });
  after(() => engine.close());

  /** One batch led by `lead`, plus `n` more requests of the same turn; returns outcomes and wall time. */
  async function batch(lead: string, n: number): Promise<{ out: PurchaseOutcome[]; ms: number }> {
    const t0 = performance.now();
    const out = await Promise.all(
      [lead, ...Array.from({ length: n }, (_, i) => `${lead}x${i}`)].map((userId) =>
        engine.flashSale(cell, {
          saleId: sale.saleId,
          userId,
          quantity: 1,
          idempotencyKey: 'k1',
          at: sale.at,
        }),
      ),
    );
    return { out, ms: performance.now() - t0 };
  }

  it('a crash before the Lua call fails the batch retriably and applies nothing', async () => {
    const before = await ledger(sale.saleId, cells);
    const { out, ms } = await batch('crashbefore1', 9);
    for (const o of out) assert.deepEqual(o, { status: 'retry', reason: 'worker_crashed', retryAfterMs: 50 });
    assert.ok(ms < 2000, `answered in ${ms.toFixed(0)} ms`);
    const l = await ledger(sale.saleId, cells);
    assert.deepEqual([l.balanced, l.reserved], [true, before.reserved]);
    const next = await batch('fine1', 4);
    assert.ok(
      next.out.every((o) => o.status === 'reserved'),
      'a replacement worker serves later requests',
    );
  });

  it('a crash after the Lua call: the callers get a retriable result; the batch applied once, whole', async () => {
    const before = await ledger(sale.saleId, cells);
    const { out, ms } = await batch('crashafter1', 5);
    for (const o of out) assert.deepEqual(o, { status: 'retry', reason: 'worker_crashed', retryAfterMs: 50 });
    assert.ok(ms < 2000, `answered in ${ms.toFixed(0)} ms`);
    const users = new Set([...(await reservations(cell, sale.saleId)).values()].map((r) => r.user));
    for (const u of ['crashafter1', 'crashafter1x0', 'crashafter1x4'])
      assert.ok(users.has(u), `${u} reserved`);
    const l = await ledger(sale.saleId, cells);
    assert.deepEqual([l.balanced, l.reserved], [true, before.reserved + 6]);
  });

  it('a replay led by a healthy request answers DUPLICATE with the original reservation', async () => {
    const out = await Promise.all(
      ['okreplay', 'crashafter1x1', 'crashafter1x2'].map((userId) =>
        engine.flashSale(cell, {
          saleId: sale.saleId,
          userId,
          quantity: 1,
          idempotencyKey: 'k1',
          at: sale.at,
        }),
      ),
    );
    assert.equal(out[0]!.status, 'reserved');
    for (const o of out.slice(1)) {
      assert.equal(o.status, 'duplicate');
      assert.ok(o.status === 'duplicate' && o.original.status === 'reserved');
    }
  });

  it('a task that throws fails its batch retriably', async () => {
    const { out } = await batch('throw1', 3);
    for (const o of out) assert.deepEqual(o, { status: 'retry', reason: 'worker_error', retryAfterMs: 50 });
  });

  it('a task that never answers is cut by the task timeout', async () => {
    const { out, ms } = await batch('hang1', 3);
    for (const o of out) assert.deepEqual(o, { status: 'retry', reason: 'timeout', retryAfterMs: 50 });
    assert.ok(ms >= 3900 && ms < 7000, `timed out after ${ms.toFixed(0)} ms (task timeout 4000 ms)`);
    const next = await batch('fine2', 2);
    assert.ok(next.out.every((o) => o.status === 'reserved'));
  });

  it('keeps the ledger invariant and counts the failures', async () => {
    const l = await ledger(sale.saleId, cells);
    assert.equal(l.sold + l.reserved + l.quotas + l.pool, l.initial);
    assert.equal(l.balanced, true);
    const st = engine.stats().find((s) => s.pool === 'flashSale')!;
    assert.equal(st.retriableFailures, 10 + 6 + 4 + 4, 'crash before, crash after, throw, hang');
  });
});
