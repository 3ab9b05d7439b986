/**
 * The fraud pool through the real engine, Piscina workers and the test Redis: bursts are batched into few tasks
 * (one fraud-velocity Lua call each) and every caller gets its own score; velocity builds up across calls; the
 * cell's thresholds decide and `tune` changes them live; BUSY under overload; a crash answers `retry`; the same
 * counters always give the same score.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { score } from '../fraud/index.ts';
import { NORMAL_REQUEST } from '../fraud/test-fixtures.ts';
import {
  EngineErrors,
  type FraudOutcome,
  type FraudRequest,
  type FraudScoredOutcome,
  type VelocitySnapshot,
} from '../index.ts';
import { closeTestScripts, testEngine, testMap, testScripts } from './support.ts';

after(closeTestScripts);

let seq = 0;
/** A request with identities no other request has (so its counters start from nothing), on top of `over`. */
function fresh(over: Partial<FraudRequest> = {}): FraudRequest {
  const n = `${process.pid}-${Date.now()}-${seq++}`;
  return {
    ...NORMAL_REQUEST,
    userId: `u-${n}`,
    deviceId: `d-${n}`,
    ip: `ip-${n}`,
    cardFingerprint: `k-${n}`,
    ...over,
  };
}

/** The counters of an attempt whose identities were never seen before. */
const FIRST_SEEN: VelocitySnapshot = {
  userAttempts1m: 1,
  userAttempts1h: 1,
  deviceDistinctCards24h: 1,
  deviceDistinctUsers24h: 1,
  ipDistinctUsers1h: 1,
  cardSmallAttempts10m: 0,
  userFailedPayments24h: 0,
};

function scored(o: FraudOutcome): FraudScoredOutcome {
  assert.equal(o.status, 'scored', JSON.stringify(o));
  return o as FraudScoredOutcome;
}
const codes = (o: FraudScoredOutcome) => o.reasons.map((r) => r.code);
const fraudStats = (e: ReturnType<typeof testEngine>['engine'], cell: number) =>
  e.stats().find((s) => s.cell === cell && s.pool === 'fraud')!;

describe('engine fraud pool', () => {
  it('batches a burst into few tasks, one Lua call each, and answers every caller with its own score', async (t) => {
    const { map, cells } = testMap({
      fraud: { maxThreads: 2, concurrentTasksPerWorker: 2, batchMaxSize: 16, batchMaxWaitMicros: 2000 },
    });
    const { engine, metrics } = testEngine(map);
    const cell = cells[0];
    const thresholds = map.cells[0]!.pools.fraud;
    try {
      const N = 160;
      const currencies = ['USD', 'EUR', 'GBP', 'JPY'];
      const requests = Array.from({ length: N }, (_, i) =>
        fresh({
          amountMinor: 1_000 + i * 997,
          currency: currencies[i % 4]!,
          itemCount: 1 + (i % 5),
          accountAgeDays: i / 4,
        }),
      );
      const out = (await Promise.all(requests.map((r) => engine.fraudScore(cell, r)))).map(scored);
      requests.forEach((r, i) => {
        assert.deepEqual(out[i]!.velocity, FIRST_SEEN, `request ${i}`);
        const want = score(r, FIRST_SEEN, thresholds);
        assert.deepEqual(
          { score: out[i]!.score, decision: out[i]!.decision, reasons: out[i]!.reasons },
          want,
          `request ${i} got its own score`,
        );
      });
      assert.ok(new Set(out.map((o) => o.score)).size > N / 2, 'the requests differ, and so do their scores');
      const st = fraudStats(engine, cell);
      t.diagnostic(
        `${N} requests -> ${st.batches} tasks, ${st.luaCalls} Lua calls (ratio ${N / st.batches})`,
      );
      assert.equal(st.requests, N);
      assert.ok(st.batches <= N / 8, `${st.batches} tasks for ${N} requests`);
      assert.equal(st.luaCalls, st.batches, 'one fraud-velocity call per task');
      assert.equal(st.busyRejections + st.retriableFailures, 0);
      const text = await metrics.registry.metrics();
      assert.match(
        text,
        new RegExp(`titan_engine_lua_calls_total\\{cell="${cell}",pool="fraud"\\} ${st.batches}\\b`),
      );
      assert.match(text, new RegExp(`titan_engine_requests_total\\{cell="${cell}",pool="fraud"\\} ${N}\\b`));
    } finally {
      await engine.close();
    }
  });

  it('builds velocity across calls: the 20th rapid attempt of a user scores higher, for VELOCITY_BURST', async () => {
    const { map, cells } = testMap({ fraud: { batchMaxWaitMicros: 0 } });
    const { engine } = testEngine(map);
    try {
      const base = fresh();
      const out: FraudScoredOutcome[] = [];
      for (let i = 0; i < 20; i++) {
        // same user, device and card; a new basket each time
        out.push(scored(await engine.fraudScore(cells[1], { ...base, amountMinor: 4_000 + i })));
      }
      assert.deepEqual(
        out.map((o) => o.velocity.userAttempts1m),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.deepEqual(out[19]!.velocity, { ...FIRST_SEEN, userAttempts1m: 20, userAttempts1h: 20 });
      assert.ok(out[19]!.score > out[0]!.score, `${out[19]!.score} > ${out[0]!.score}`);
      assert.ok(!codes(out[0]!).includes('VELOCITY_BURST'));
      assert.ok(codes(out[19]!).includes('VELOCITY_BURST'), JSON.stringify(out[19]!.reasons));
    } finally {
      await engine.close();
    }
  });

  it('counts distinct cards per device: many cards on one device raise MANY_CARDS_PER_DEVICE', async () => {
    const { map, cells } = testMap();
    const { engine } = testEngine(map);
    try {
      const device = fresh().deviceId;
      const requests = Array.from({ length: 12 }, () => fresh({ deviceId: device }));
      const out: FraudScoredOutcome[] = [];
      // one device, a new card and a new account every time, all within the device's 24 h window
      for (const r of requests) out.push(scored(await engine.fraudScore(cells[0], r)));
      assert.deepEqual(
        out.map((o) => o.velocity.deviceDistinctCards24h),
        Array.from({ length: 12 }, (_, i) => i + 1),
      );
      assert.ok(out[11]!.score > out[0]!.score);
      assert.ok(!codes(out[0]!).includes('MANY_CARDS_PER_DEVICE'));
      assert.ok(codes(out[11]!).includes('MANY_CARDS_PER_DEVICE'), JSON.stringify(out[11]!.reasons));
      // a card seen before on the device is not a new card; its user is not a new account
      const again = scored(
        await engine.fraudScore(cells[0], { ...fresh(), ...requests[3]!, ip: fresh().ip }),
      );
      assert.equal(again.velocity.deviceDistinctCards24h, 12);
      assert.equal(again.velocity.deviceDistinctUsers24h, 12);
      assert.equal(again.velocity.userAttempts1m, 2);
    } finally {
      await engine.close();
    }
  });

  it('decides at the thresholds of each cell, and `tune` changes them live without a new pool', async () => {
    // the same attempt with fresh identities always has the FIRST_SEEN counters, hence one score S
    const s = score(fresh(), FIRST_SEEN).score;
    const { map, cells } = testMap({ fraud: { reviewThreshold: 0.7, denyThreshold: 0.9 } }, [
      undefined,
      { reviewThreshold: s / 2, denyThreshold: Math.min(1, s * 2) },
    ]);
    const { engine } = testEngine(map);
    const [a, b] = cells;
    const decide = async (cell: number) => {
      const o = scored(await engine.fraudScore(cell, fresh()));
      assert.equal(o.score, s);
      return o.decision;
    };
    try {
      assert.deepEqual([await decide(a), await decide(b)], ['allow', 'review']);
      engine.tune(a, 'fraud', { reviewThreshold: s / 4, denyThreshold: s / 2 });
      assert.deepEqual([await decide(a), await decide(b)], ['deny', 'review']);
      engine.tune(b, 'fraud', { reviewThreshold: s, denyThreshold: 1 });
      assert.equal(await decide(b), 'review', 'score == reviewThreshold is review');
      engine.tune(b, 'fraud', { reviewThreshold: Math.min(0.99, s * 1.5), denyThreshold: 1 });
      assert.equal(await decide(b), 'allow');
      // a burst spanning a tune: batches formed before it keep the old thresholds, later ones get the new
      const before = Array.from({ length: 5 }, () => engine.fraudScore(a, fresh()));
      engine.tune(a, 'fraud', { reviewThreshold: 0.7, denyThreshold: 0.9 });
      const later = Array.from({ length: 5 }, () => engine.fraudScore(a, fresh()));
      assert.deepEqual(
        (await Promise.all(before)).map((o) => scored(o).decision),
        Array(5).fill('deny'),
      );
      assert.deepEqual(
        (await Promise.all(later)).map((o) => scored(o).decision),
        Array(5).fill('allow'),
      );
      assert.equal(fraudStats(engine, a).generation, 1, 'thresholds apply in place');
      assert.equal(engine.map.cells.find((c) => c.id === a)!.pools.fraud.reviewThreshold, 0.7);
      engine.tune(a, 'fraud', { maxThreads: 3 });
      assert.equal(scored(await engine.fraudScore(a, fresh())).decision, 'allow');
      assert.equal(fraudStats(engine, a).generation, 2, 'a thread change starts a new generation');
    } finally {
      await engine.close();
    }
  });

  it('answers BUSY at once when the pool has no slot left', async () => {
    const { map, cells } = testMap({
      fraud: { minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1, maxQueue: 0, batchMaxSize: 1 },
    });
    const { engine } = testEngine(map);
    const cell = cells[0];
    try {
      scored(await engine.fraudScore(cell, fresh())); // warm the worker
      const out = await Promise.all(Array.from({ length: 40 }, () => engine.fraudScore(cell, fresh())));
      const busy = out.filter((o) => o.status === 'busy');
      const ok = out.filter((o) => o.status === 'scored');
      assert.equal(
        busy.length + ok.length,
        out.length,
        JSON.stringify(out.find((o) => o.status === 'retry')),
      );
      assert.ok(ok.length >= 1 && busy.length >= 30, `${ok.length} scored, ${busy.length} busy`);
      for (const o of busy) assert.ok(o.retryAfterMs >= 1 && o.retryAfterMs <= 5000);
      const st = fraudStats(engine, cell);
      assert.equal(st.busyRejections, busy.length);
      assert.equal(st.batches, ok.length + 1);
      // capacity comes back: the next request after the burst is scored
      scored(await engine.fraudScore(cell, fresh()));
    } finally {
      await engine.close();
    }
  });

  it('answers retry when the worker crashes, and keeps scoring with a replacement', async () => {
    const { map, cells } = testMap({ fraud: { batchMaxSize: 4, batchMaxWaitMicros: 0 } });
    const { engine } = testEngine(map, {
      testing: { workerFiles: { fraud: new URL('./fraud-fault.worker.ts', import.meta.url) } },
    });
    const cell = cells[1];
    try {
      const out = await Promise.all([
        engine.fraudScore(cell, fresh({ userId: `crash-${seq++}` })),
        engine.fraudScore(cell, fresh()),
      ]);
      for (const o of out)
        assert.deepEqual(o, { status: 'retry', reason: 'worker_crashed', retryAfterMs: 50 });
      scored(await engine.fraudScore(cell, fresh()));
      assert.equal(fraudStats(engine, cell).retriableFailures, 2);
    } finally {
      await engine.close();
    }
  });

  it('is deterministic: the same request with the same counters gets the same score, in any cell', async () => {
    const { map, cells } = testMap({ fraud: { reviewThreshold: 0.05, denyThreshold: 0.5 } });
    const { engine } = testEngine(map);
    const scripts = await testScripts();
    try {
      const attempt = () => fresh({ accountAgeDays: 0.5, amountMinor: 250, ipCountry: 'NG' });
      const results: FraudScoredOutcome[] = [];
      for (const cell of [cells[0], cells[1], cells[0]]) {
        const r = attempt();
        // two failed payments recorded by payments (the separate failure call), then two attempts
        for (const f of ['f1', 'f2', 'f1']) {
          await scripts.fraudRecordFailure({
            cell: String(cell),
            userId: r.userId,
            failureId: f,
            now: Date.now(),
          });
        }
        scored(await engine.fraudScore(cell, r));
        results.push(scored(await engine.fraudScore(cell, r)));
      }
      const want = {
        ...FIRST_SEEN,
        userAttempts1m: 2,
        userAttempts1h: 2,
        cardSmallAttempts10m: 2,
        userFailedPayments24h: 2,
      };
      for (const o of results) assert.deepEqual(o.velocity, want);
      assert.deepEqual(results[1], results[0]);
      assert.deepEqual(results[2], results[0]);
      const expected = score(attempt(), want, { reviewThreshold: 0.05, denyThreshold: 0.5 });
      assert.deepEqual(
        { score: results[0]!.score, decision: results[0]!.decision, reasons: results[0]!.reasons },
        expected,
      );
      assert.ok(
        codes(results[0]!).includes('CARD_TESTING') || codes(results[0]!).includes('FAILED_PAYMENTS'),
      );
    } finally {
      await engine.close();
    }
  });

  it('refuses a bad request alone, naming the field, without joining a batch', async () => {
    const { map, cells } = testMap();
    const { engine } = testEngine(map);
    try {
      const good = engine.fraudScore(cells[0], fresh());
      const cases: [Partial<Record<keyof FraudRequest, unknown>>, string][] = [
        [{ userId: 'has space' }, 'userId'],
        [{ ip: '' }, 'ip'],
        [{ cardFingerprint: 'k'.repeat(129) }, 'cardFingerprint'],
        [{ currency: 'XXX' }, 'currency'],
        [{ amountMinor: -1 }, 'amountMinor'],
        [{ itemCount: 0 }, 'itemCount'],
        [{ shippingCountry: 'usa' }, 'shippingCountry'],
        [{ accountAgeDays: Number.NaN }, 'accountAgeDays'],
      ];
      for (const [over, field] of cases) {
        await assert.rejects(
          engine.fraudScore(cells[0], { ...fresh(), ...over } as FraudRequest),
          (err: unknown) => EngineErrors.ENGINE_BAD_REQUEST.is(err) && err.details?.['field'] === field,
          field,
        );
      }
      await assert.rejects(engine.fraudScore(999_999, fresh()), (err: unknown) =>
        EngineErrors.ENGINE_UNKNOWN_CELL.is(err),
      );
      scored(await good);
      assert.equal(fraudStats(engine, cells[0]).requests, 1);
    } finally {
      await engine.close();
    }
  });
});
