/**
 * Pool sizing from the cell settings, live resize under load, BUSY under overload, the inventory pool, metrics,
 * and caller errors, through the real engine on the test Redis.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises';
import { CellErrors } from '../../cells/index.ts';
import { EngineErrors, type PurchaseOutcome } from '../index.ts';
import { closeTestScripts, ledger, openSale, testEngine, testMap, testScripts } from './support.ts';

after(closeTestScripts);

const flashStats = (e: ReturnType<typeof testEngine>['engine'], cell: number) =>
  e.stats().find((s) => s.cell === cell && s.pool === 'flashSale');

describe('engine pools', () => {
  it('starts threads lazily and sizes pools from the cell settings', async () => {
    const { map, cells } = testMap({
      flashSale: { minThreads: 0, maxThreads: 2, concurrentTasksPerWorker: 1 },
    });
    const { engine } = testEngine(map);
    try {
      assert.deepEqual(engine.stats(), [], 'no pool before the first request');
      const sales = await Promise.all(
        [1, 2, 3, 4, 5, 6].map(() => openSale(cells[0], { initial: 50, quota: 50, perUserLimit: 50 })),
      );
      // 6 sales x 40 requests: at least 6 tasks at once, more than maxThreads * concurrency
      const out = await Promise.all(
        sales.flatMap((s, k) =>
          Array.from({ length: 40 }, (_, i) =>
            engine.flashSale(cells[0], {
              saleId: s.saleId,
              userId: `z${k}`,
              quantity: 1,
              idempotencyKey: `k${i}`,
              at: s.at,
            }),
          ),
        ),
      );
      assert.ok(out.every((o) => o.status === 'reserved'));
      const st = flashStats(engine, cells[0])!;
      assert.ok(st.threads >= 1 && st.threads <= 2, `threads ${st.threads} within 1..maxThreads`);
      assert.equal(st.settings.maxThreads, 2);
      assert.equal(engine.stats().length, 1, 'the inventory pool and the other cell did not start');
    } finally {
      await engine.close();
    }
  });

  it("warm() starts every cell's flash-sale threads before the first request, and keeps a resized pool warm", async () => {
    const { map, cells } = testMap({ flashSale: { minThreads: 2, maxThreads: 3 } });
    const { engine } = testEngine(map);
    try {
      await engine.warm('flashSale');
      for (const cell of cells) {
        const st = flashStats(engine, cell);
        assert.ok(st, `cell ${cell} has a flash-sale lane`);
        assert.equal(st.threads, 2, `cell ${cell} runs minThreads threads before any purchase`);
        assert.equal(st.requests, 0, 'the warm-up is no purchase');
      }
      assert.equal(
        engine.stats().filter((s) => s.pool !== 'flashSale').length,
        0,
        'only the pool asked for was warmed',
      );
      const s = await openSale(cells[0], { initial: 5, quota: 5, perUserLimit: 5 });
      const before = await ledger(s.saleId, cells);
      const first = await engine.flashSale(cells[0], {
        saleId: s.saleId,
        userId: 'w',
        quantity: 1,
        idempotencyKey: 'w1',
        at: s.at,
      });
      assert.equal(first.status, 'reserved');
      assert.equal((await ledger(s.saleId, cells)).reserved, before.reserved + 1, 'one unit, once');
      // a resize starts a new generation: it is warmed too, without waiting for a purchase
      engine.tune(cells[1], 'flashSale', { maxThreads: 4 });
      for (let i = 0; i < 200 && flashStats(engine, cells[1])!.threads < 2; i++) await sleep(25);
      const resized = flashStats(engine, cells[1])!;
      assert.equal(resized.generation, 2);
      assert.ok(resized.threads >= 2, `resized pool threads ${resized.threads}`);
    } finally {
      await engine.close();
    }
  });

  it('runOn event-loop: the same batches and answers without a thread; switching live loses no request', async () => {
    const { map, cells } = testMap({ flashSale: { runOn: 'event-loop' } });
    const { engine } = testEngine(map);
    try {
      const s = await openSale(cells[0], { initial: 100, quota: 100, perUserLimit: 2 });
      const buy = (user: string, key: string) =>
        engine.flashSale(cells[0], {
          saleId: s.saleId,
          userId: user,
          quantity: 1,
          idempotencyKey: key,
          at: s.at,
        });
      const burst = await Promise.all(Array.from({ length: 60 }, (_, i) => buy(`u${i % 20}`, `e${i}`)));
      const reserved = burst.filter((o) => o.status === 'reserved').length;
      assert.equal(reserved, 40, 'two per user, batched on the loop');
      assert.ok(burst.every((o) => o.status === 'reserved' || o.status === 'limit_reached'));
      const replay = await buy('u0', 'e0');
      assert.equal(replay.status, 'duplicate');
      let st = flashStats(engine, cells[0])!;
      assert.deepEqual([st.runOn, st.threads], ['event-loop', 0]);
      assert.ok(st.luaCalls < 60, `batched: ${st.luaCalls} Lua calls for 61 requests`);
      // back to workers while requests are in flight: every one is answered, none lost or doubled
      const during = Array.from({ length: 40 }, (_, i) => buy(`v${i}`, `f${i}`));
      engine.tune(cells[0], 'flashSale', { runOn: 'workers' });
      const after = Array.from({ length: 20 }, (_, i) => buy(`w${i}`, `g${i}`));
      const all = await Promise.all([...during, ...after]);
      assert.ok(
        all.every((o) => o.status === 'reserved'),
        JSON.stringify(all.filter((o) => o.status !== 'reserved')),
      );
      st = flashStats(engine, cells[0])!;
      assert.equal(st.runOn, 'workers');
      const l = await ledger(s.saleId, cells);
      assert.deepEqual([l.reserved, l.balanced], [100, true], 'every answer is in the ledger exactly once');
    } finally {
      await engine.close();
    }
  });

  it('keeps minThreads workers alive', async () => {
    const { map, cells } = testMap({ flashSale: { minThreads: 2, maxThreads: 3 } });
    const { engine } = testEngine(map);
    try {
      const s = await openSale(cells[1], { initial: 5, quota: 5, perUserLimit: 5 });
      await engine.flashSale(cells[1], {
        saleId: s.saleId,
        userId: 'm',
        quantity: 1,
        idempotencyKey: 'k',
        at: s.at,
      });
      assert.equal(flashStats(engine, cells[1])!.threads, 2);
    } finally {
      await engine.close();
    }
  });

  it('resizes live under load: no request fails or is lost', async () => {
    const { map, cells } = testMap({
      flashSale: { minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 2 },
    });
    const { engine } = testEngine(map);
    const cell = cells[0];
    try {
      const sale = await openSale(cell, { initial: 1500, quota: 1500, perUserLimit: 1 });
      const out: Promise<PurchaseOutcome>[] = [];
      const N = 3000;
      const load = (async () => {
        for (let i = 0; i < N; i++) {
          out.push(
            engine.flashSale(cell, {
              saleId: sale.saleId,
              userId: `r${i}`,
              quantity: 1,
              idempotencyKey: 'k',
              at: sale.at,
            }),
          );
          if (i % 60 === 59) await sleep(1);
        }
      })();
      const busyAtTune: number[] = [];
      const inFlight = () => {
        const st = flashStats(engine, cell);
        busyAtTune.push(st === undefined ? 0 : st.inFlightTasks + st.pendingRequests);
      };
      await sleep(40);
      inFlight();
      const v2 = engine.tune(cell, 'flashSale', {
        maxThreads: 3,
        minThreads: 2,
        concurrentTasksPerWorker: 4,
      });
      assert.equal(v2.version, map.version + 1);
      await sleep(40);
      inFlight();
      engine.tune(cell, 'flashSale', { maxThreads: 2, minThreads: 1, batchMaxSize: 16 });
      await sleep(40);
      engine.tune(cell, 'flashSale', { maxQueue: 5000 });
      await load;
      assert.ok(
        busyAtTune.some((n) => n > 0),
        `a resize happened with work in flight (${busyAtTune})`,
      );
      const results = await Promise.all(out);
      const counts: Record<string, number> = {};
      for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
      assert.equal(results.length, N);
      assert.deepEqual(counts, { reserved: 1500, sold_out: 1500 }, JSON.stringify(counts));
      const st = flashStats(engine, cell)!;
      assert.equal(st.generation, 3, 'two resizes started new pools; the maxQueue change applied in place');
      assert.equal(st.settings.maxQueue, 5000);
      assert.equal(st.retriableFailures, 0);
      assert.equal(st.busyRejections, 0);
      assert.equal(st.completedTasks, st.batches, 'every task of every generation completed');
      const l = await ledger(sale.saleId, cells);
      assert.deepEqual([l.balanced, l.reserved], [true, 1500]);
      assert.throws(
        () => engine.tune(cell, 'flashSale', { minThreads: 5, maxThreads: 2 }),
        (err) => CellErrors.CELL_MAP_INVALID.is(err),
      );
    } finally {
      await engine.close();
    }
  });

  it('answers BUSY at once when the queue is full; nothing hangs and nothing is oversold', async () => {
    const { map, cells } = testMap({
      flashSale: { minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1, maxQueue: 1, batchMaxSize: 4 },
    });
    const { engine } = testEngine(map);
    const cell = cells[0];
    try {
      const sale = await openSale(cell, { initial: 30, quota: 30, perUserLimit: 1 });
      // warm the worker so the flood meets a running pool
      await engine.flashSale(cell, {
        saleId: sale.saleId,
        userId: 'warm',
        quantity: 1,
        idempotencyKey: 'k',
        at: sale.at,
      });
      const t0 = performance.now();
      const times: number[] = [];
      const flood = Array.from({ length: 200 }, (_, i) =>
        engine
          .flashSale(cell, {
            saleId: sale.saleId,
            userId: `b${i}`,
            quantity: 1,
            idempotencyKey: 'k',
            at: sale.at,
          })
          .then((o) => {
            times[i] = performance.now() - t0;
            return o;
          }),
      );
      const out = await Promise.all(flood);
      const busy = out.filter((o) => o.status === 'busy');
      const served = out.filter((o) => o.status !== 'busy');
      // 2 task slots (1 running + 1 queued) of 4 requests each
      assert.equal(served.length, 8, JSON.stringify(out.slice(0, 10)));
      assert.equal(busy.length, 192);
      for (const b of busy) assert.ok(b.status === 'busy' && b.retryAfterMs >= 1);
      const busyTimes = out.map((o, i) => (o.status === 'busy' ? times[i]! : -1)).filter((t) => t >= 0);
      assert.ok(
        Math.max(...busyTimes) < 50,
        `BUSY answered immediately (max ${Math.max(...busyTimes).toFixed(1)} ms)`,
      );
      assert.equal(flashStats(engine, cell)!.busyRejections, 192);
      // once the queue drained, requests are served again
      const later = await engine.flashSale(cell, {
        saleId: sale.saleId,
        userId: 'later',
        quantity: 1,
        idempotencyKey: 'k',
        at: sale.at,
      });
      assert.equal(later.status, 'reserved');
      const l = await ledger(sale.saleId, cells);
      assert.deepEqual([l.balanced, l.reserved], [true, 10]);
    } finally {
      await engine.close();
    }
  });

  it('runs cart reserve / commit / release through the inventory pool', async () => {
    const { map, cells } = testMap();
    const { engine, metrics } = testEngine(map);
    const cell = cells[1];
    try {
      const scripts = await testScripts();
      const sku = `sku${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
      await scripts.stockAdjust({
        cell: String(cell),
        adjustId: `${sku}a`,
        sku,
        mode: 'set',
        value: 5,
        reason: 'test',
        now: 1,
      });
      const [a, b, c] = await Promise.all([
        engine.reserveCart(cell, { holdId: `${sku}h1`, ttlMs: 60_000, items: [{ sku, quantity: 2 }] }),
        engine.reserveCart(cell, { holdId: `${sku}h2`, ttlMs: 60_000, items: [{ sku, quantity: 2 }] }),
        engine.reserveCart(cell, { holdId: `${sku}h3`, ttlMs: 60_000, items: [{ sku, quantity: 2 }] }),
      ]);
      assert.equal(a.status, 'reserved');
      assert.equal(b.status, 'reserved');
      assert.deepEqual(c, { status: 'out_of_stock', skus: [sku] });
      const dup = await engine.reserveCart(cell, {
        holdId: `${sku}h1`,
        ttlMs: 60_000,
        items: [{ sku, quantity: 2 }],
      });
      assert.equal(dup.status, 'duplicate');
      assert.ok(dup.status === 'duplicate' && dup.hold.state === 'reserved');
      assert.deepEqual(await engine.commitCart(cell, { holdId: `${sku}h1` }), { status: 'committed' });
      assert.deepEqual(await engine.commitCart(cell, { holdId: `${sku}h1` }), {
        status: 'already_committed',
      });
      assert.deepEqual(await engine.releaseCart(cell, { holdId: `${sku}h2` }), { status: 'released' });
      assert.deepEqual(await engine.releaseCart(cell, { holdId: `${sku}nope` }), { status: 'not_found' });
      const inv = await scripts.redis.hmget(`{c${cell}}:inv`, `a:${sku}`, `h:${sku}`, `s:${sku}`);
      assert.deepEqual(inv.map(Number), [3, 0, 2]);

      await assert.rejects(
        engine.reserveCart(cell, {
          holdId: 'x',
          ttlMs: 1,
          items: [
            { sku, quantity: 1 },
            { sku, quantity: 1 },
          ],
        }),
        (err) => EngineErrors.ENGINE_BAD_REQUEST.is(err) && err.details?.['field'] === 'items[1].sku',
      );
      await assert.rejects(engine.commitCart(424242, { holdId: 'x' }), (err) =>
        EngineErrors.ENGINE_UNKNOWN_CELL.is(err),
      );
      await assert.rejects(
        engine.flashSale(cell, { saleId: 'bad sale', userId: 'u', quantity: 1, idempotencyKey: 'k' }),
        (err) => EngineErrors.ENGINE_BAD_REQUEST.is(err) && err.details?.['field'] === 'saleId',
      );
      await assert.rejects(
        engine.flashSale(cell, { saleId: 'nosuchsale', userId: 'u', quantity: 1, idempotencyKey: 'k' }),
        (err) => EngineErrors.ENGINE_SALE_NOT_FOUND.is(err),
      );

      const text = await metrics.render();
      const labels = `cell="${cell}",pool="inventory"`;
      assert.match(text, new RegExp(`titan_engine_batch_size_count\\{${labels}\\} \\d+`));
      assert.match(text, new RegExp(`titan_engine_task_wait_seconds_count\\{${labels}\\} \\d+`));
      assert.match(text, new RegExp(`titan_engine_task_run_seconds_count\\{${labels}\\} \\d+`));
      assert.match(text, new RegExp(`titan_engine_queue_depth\\{${labels}\\} 0`));
      assert.match(text, new RegExp(`titan_engine_threads\\{${labels}\\} [1-9]`));
      assert.match(text, /titan_engine_utilization_ratio\{/);
      assert.match(text, /# TYPE titan_engine_busy_rejections_total counter/);
      const st = engine.stats().find((s) => s.pool === 'inventory')!;
      assert.ok(st.batches < st.requests, `the three reservations shared a task (${st.batches} tasks)`);
      await turn();
    } finally {
      await engine.close();
    }
  });
});
