/**
 * Through the real engine (Piscina workers, real Redis): batching of a burst, each result to its own caller,
 * no oversell under a concurrent hammer, and close() draining in-flight requests.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { EngineErrors, type PurchaseOutcome } from '../index.ts';
import { closeTestScripts, ledger, openSale, reservations, testEngine, testMap } from './support.ts';

after(closeTestScripts);

describe('engine batching', () => {
  it('a burst of 480 requests becomes ~10 tasks and Lua calls; each result reaches its own caller', async () => {
    const { map, cells } = testMap();
    const { engine } = testEngine(map);
    const cell = cells[0];
    try {
      const sale = await openSale(cell, { initial: 300, quota: 300, perUserLimit: 3 });
      const N = 480;
      const users = (i: number) => `u${i % 200}`;
      const calls = Array.from({ length: N }, (_, i) =>
        engine.flashSale(cell, {
          saleId: sale.saleId,
          userId: users(i),
          quantity: 1,
          idempotencyKey: `k${i}`,
          at: sale.at,
        }),
      );
      const out = await Promise.all(calls);
      // replays of the first 20 keys, as one more burst: each must answer the first result of its key
      const again = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          engine.flashSale(cell, {
            saleId: sale.saleId,
            userId: users(i),
            quantity: 1,
            idempotencyKey: `k${i}`,
            at: sale.at,
          }),
        ),
      );
      const st = engine.stats().find((s) => s.cell === cell && s.pool === 'flashSale')!;
      assert.equal(st.requests, N + 20);
      assert.ok(st.batches <= 13, `expected about ${Math.ceil(N / 48) + 1} tasks, got ${st.batches}`);
      assert.equal(st.luaCalls, st.batches, 'one Lua call per task');
      assert.equal(st.completedTasks, st.batches);

      const recs = await reservations(cell, sale.saleId);
      let reserved = 0;
      out.forEach((o, i) => {
        assert.ok(['reserved', 'sold_out', 'limit_reached'].includes(o.status), `${i}: ${o.status}`);
        if (o.status === 'reserved') {
          reserved++;
          assert.equal(
            recs.get(o.reservationId)?.user,
            users(i),
            `reservation ${o.reservationId} belongs to caller ${i}`,
          );
        }
      });
      assert.equal(reserved, 300);
      // A replay answers the first result, except SOLD_OUT, which is not recorded (quota moves between
      // cells): the replay is judged again, and the stock is still gone.
      for (const [i, o] of again.entries()) {
        assert.deepEqual(
          o,
          out[i]!.status === 'sold_out' ? out[i] : { status: 'duplicate', original: out[i] },
        );
      }
      const l = await ledger(sale.saleId, cells);
      assert.equal(l.balanced, true);
      assert.equal(l.reserved, 300);
      console.log(`batching: ${N + 20} requests -> ${st.batches} tasks / ${st.luaCalls} Lua calls`);
    } finally {
      await engine.close();
    }
  });

  it('no oversell: 5,000 attempts on 100 units with a limit of 2 per user', async () => {
    const { map, cells } = testMap({
      flashSale: { maxThreads: 2, concurrentTasksPerWorker: 4, maxQueue: 100_000 },
    });
    const { engine } = testEngine(map);
    const cell = cells[0];
    try {
      const sale = await openSale(cell, { initial: 100, quota: 100, perUserLimit: 2 });
      const out: Promise<PurchaseOutcome>[] = [];
      const userOf: string[] = [];
      for (let wave = 0; wave < 20; wave++) {
        for (let j = 0; j < 250; j++) {
          const i = wave * 250 + j;
          const userId = `h${(i * 7919) % 800}`;
          userOf.push(userId);
          out.push(
            engine.flashSale(cell, {
              saleId: sale.saleId,
              userId,
              quantity: 1 + (i % 2),
              idempotencyKey: `a${i}`,
              at: sale.at,
            }),
          );
        }
        await turn();
      }
      const results = await Promise.all(out);
      const perUser = new Map<string, number>();
      const recs = await reservations(cell, sale.saleId);
      let units = 0;
      results.forEach((r, i) => {
        assert.ok(r.status !== 'retry' && r.status !== 'busy', `attempt ${i}: ${JSON.stringify(r)}`);
        if (r.status === 'reserved') {
          const rec = recs.get(r.reservationId)!;
          assert.equal(rec.user, userOf[i]);
          units += rec.qty;
          perUser.set(rec.user, (perUser.get(rec.user) ?? 0) + rec.qty);
        }
      });
      assert.equal(units, 100, 'exactly the stock was reserved');
      for (const [user, n] of perUser) assert.ok(n <= 2, `${user} holds ${n}`);
      const l = await ledger(sale.saleId, cells);
      assert.deepEqual([l.balanced, l.reserved, l.quotas, l.pool], [true, 100, 0, 0]);
      const st = engine.stats().find((s) => s.pool === 'flashSale')!;
      console.log(`hammer: 5000 attempts -> ${st.batches} tasks`);
      assert.ok(st.batches < 1000);
    } finally {
      await engine.close();
    }
  });

  it('close() sends open batches and answers every in-flight request, then refuses new ones', async () => {
    const { map, cells } = testMap({ flashSale: { batchMaxWaitMicros: 50_000 } });
    const { engine } = testEngine(map);
    const cell = cells[1];
    const sale = await openSale(cell, { initial: 1000, quota: 1000, perUserLimit: 5 });
    const calls = Array.from({ length: 300 }, (_, i) =>
      engine.flashSale(cell, {
        saleId: sale.saleId,
        userId: `c${i}`,
        quantity: 1,
        idempotencyKey: `k${i}`,
        at: sale.at,
      }),
    );
    const closed = engine.close();
    const out = await Promise.all(calls);
    await closed;
    assert.ok(
      out.every((o) => o.status === 'reserved'),
      'every request drained with its real answer',
    );
    await assert.rejects(
      engine.flashSale(cell, {
        saleId: sale.saleId,
        userId: 'late',
        quantity: 1,
        idempotencyKey: 'k',
        at: sale.at,
      }),
      (err) => EngineErrors.ENGINE_CLOSED.is(err),
    );
    assert.equal(engine.stats().length, 0);
    assert.equal((await ledger(sale.saleId, cells)).reserved, 300);
  });
});
