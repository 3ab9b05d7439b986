/**
 * micro (tinybench): user -> cell lookup (500-cell map) beside a Map peer; the engine dispatcher's overhead per
 * request (a burst of 48 through coalesce, pack, unpack and route, with an in-process sink) beside a bare
 * Promise; one fraud score; an event envelope encoded and decoded with msgpackr against JSON; and each Lua
 * script through ioredis (one awaited call at a time), with Redis' own execution time per call from
 * INFO commandstats. The standalone files (cell-lookup/dispatcher/fraud-score.bench.ts) go deeper on each.
 */
import { Packr } from 'msgpackr';
import { Bench } from 'tinybench';
import { createCellRouter, generateMap } from '../../cells/index.ts';
import { packMessage, STRIDE, TASK_HEADER, unpackMessage } from '../../engine/codec.ts';
import { type BatchSink, Dispatcher } from '../../engine/dispatcher.ts';
import { generateDataset } from '../../engine/fraud/generate-data.ts';
import { loadFraudModel } from '../../engine/fraud/index.ts';
import type { PurchaseOutcome } from '../../engine/index.ts';
import { flashSaleCodec } from '../../engine/kinds.ts';
import { configureSaleCell, createSale, defineVoucher } from '../../lua/admin.ts';
import { decodePurchaseEntry } from '../../lua/flash-sale-purchase.ts';
import { loadScripts, MAX_FRAUD_BATCH, MAX_PURCHASE_BATCH } from '../../lua/loader.ts';
import { transferQuota } from '../../lua/quota-transfer.ts';
import type { BenchContext } from '../lib/context.ts';
import { redisCommandStats } from '../lib/cpu.ts';
import type { MicroRow } from '../report/document.ts';

let sink = 0;

function benchOptions(smoke: boolean, long = false) {
  return {
    time: smoke ? 40 : long ? 1500 : 600,
    warmupTime: smoke ? 10 : 200,
    iterations: smoke ? 8 : 32,
    throws: true,
  };
}

async function runOne(
  name: string,
  smoke: boolean,
  fn: () => unknown | Promise<unknown>,
  long = false,
): Promise<{ periodMs: number }> {
  const b = new Bench({ name, ...benchOptions(smoke, long) });
  b.add(name, fn as () => void);
  await b.run();
  const r = b.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`${name}: ${r.state}`);
  return { periodMs: r.period };
}

function cpuRows(smoke: boolean): Promise<MicroRow[]> {
  return (async () => {
    const rows: MicroRow[] = [];
    const row = (group: string, task: string, nsPerOp: number, note?: string) =>
      rows.push({ group, task, opsPerSecond: 1e9 / nsPerOp, nsPerOp, ...(note ? { note } : {}) });

    // user -> cell
    const router = createCellRouter(generateMap({ cells: 500, shards: 10 }));
    const IDS = 1 << 16;
    let seed = 0x9e3779b9;
    const rnd = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const ids = Array.from({ length: IDS }, () => (rnd() * 4096 + (rnd() & 0xfff)).toString(36));
    const peer = new Map(ids.map((id) => [id, router.route(id)]));
    const PER = 1024;
    let cursor = 0;
    const lookup = await runOne(
      'router.route',
      smoke,
      () => {
        const base = cursor;
        for (let i = 0; i < PER; i++) sink += router.route(ids[(base + i) & (IDS - 1)]!);
        cursor = (base + PER) & (IDS - 1);
      },
      true,
    );
    row('cell lookup', 'router.route(id): user -> cell (500 cells)', (lookup.periodMs * 1e6) / PER);
    const map = await runOne(
      'map',
      smoke,
      () => {
        const base = cursor;
        for (let i = 0; i < PER; i++) sink += peer.get(ids[(base + i) & (IDS - 1)]!)!;
        cursor = (base + PER) & (IDS - 1);
      },
      true,
    );
    row('cell lookup', 'peer: Map<string, number>.get(id)', (map.periodMs * 1e6) / PER);

    // dispatcher
    const RESULT = ['1700000060000', 'R123456'];
    const fakeSink: BatchSink = {
      tryReserve: () => true,
      retryAfterMs: () => 1,
      async run(task) {
        const m = unpackMessage(task);
        const n = m[2] as number;
        const entries: unknown[] = ['1700000060000'];
        for (let i = 0; i < n; i++)
          entries.push(typeof m[TASK_HEADER + i * STRIDE] === 'string' ? 'R123456' : 'S');
        return packMessage([0, 0, 0, 1, entries]);
      },
    };
    const BURST = MAX_PURCHASE_BATCH;
    const d = new Dispatcher<PurchaseOutcome>(
      fakeSink,
      flashSaleCodec,
      { batchMaxSize: BURST, batchMaxWaitMicros: 0 },
      { hardMax: BURST },
    );
    const users = Array.from({ length: BURST }, (_, i) => `user${i}`);
    const calls: Promise<PurchaseOutcome>[] = new Array(BURST);
    const disp = await runOne('dispatcher', smoke, async () => {
      for (let i = 0; i < BURST; i++)
        calls[i] = d.submit('sale-1', users[i], 1, `idem-${i}`, 1_700_000_000_000);
      const out = await Promise.all(calls);
      if (out[BURST - 1]!.status === 'reserved') sink++;
    });
    row(
      'dispatcher',
      `dispatcher: burst of ${BURST} -> 1 task, per request`,
      (disp.periodMs * 1e6) / BURST,
      'in-process sink, no worker',
    );
    const bare = await runOne('bare promise', smoke, async () => {
      for (let i = 0; i < BURST; i++) calls[i] = Promise.resolve(decodePurchaseEntry(RESULT, 0));
      const out = await Promise.all(calls);
      if (out[BURST - 1]!.status === 'reserved') sink++;
    });
    row(
      'dispatcher',
      'peer: a bare Promise per request (same outcome decoded)',
      (bare.periodMs * 1e6) / BURST,
    );

    // fraud score
    const model = loadFraudModel();
    const inputs = generateDataset({ seed: 4242, size: 4096, fraudRate: 0.3 });
    let fc = 0;
    const SCORES = 256;
    const score = await runOne(
      'fraud',
      smoke,
      () => {
        for (let i = 0; i < SCORES; i++) {
          const x = inputs[(fc + i) & 4095]!;
          sink += model.score(x.request, x.velocity, model.defaultThresholds).score;
        }
        fc = (fc + SCORES) & 4095;
      },
      true,
    );
    row('fraud', 'model.score(request, velocity): one fraud score', (score.periodMs * 1e6) / SCORES);

    // event envelope: a reservation.created event as the outbox relay would put it on the bus
    const envelope = {
      id: '01JD3XK7Q8V4M2N6P0R5S9T1W3',
      type: 'reservation.created',
      source: 'cell/17',
      occurredAt: 1_732_000_000_123,
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      data: {
        saleId: 'fsm3k2x9a1b2c3d4',
        reservationId: 'fsm3k2x9a1b2c3d4-17-123456',
        userId: 'u9f8e7d6c5b4a3f2e1d0',
        qty: 1,
        expiresAt: 1_732_000_600_123,
      },
    };
    const packr = new Packr({ useRecords: true });
    const packed = packr.pack(envelope);
    const json = JSON.stringify(envelope);
    const N = 256;
    const tasks: [string, () => void][] = [
      [
        'envelope encode: msgpackr (records)',
        () => {
          for (let i = 0; i < N; i++) sink += packr.pack(envelope).length;
        },
      ],
      [
        'envelope encode: JSON.stringify',
        () => {
          for (let i = 0; i < N; i++) sink += JSON.stringify(envelope).length;
        },
      ],
      [
        'envelope decode: msgpackr (records)',
        () => {
          for (let i = 0; i < N; i++) sink += (packr.unpack(packed) as typeof envelope).data.qty;
        },
      ],
      [
        'envelope decode: JSON.parse',
        () => {
          for (let i = 0; i < N; i++) sink += (JSON.parse(json) as typeof envelope).data.qty;
        },
      ],
    ];
    for (const [name, fn] of tasks) {
      const r = await runOne(name, smoke, fn);
      row(
        'event envelope',
        name,
        (r.periodMs * 1e6) / N,
        name.includes('msgpackr') ? `${packed.length} bytes` : `${Buffer.byteLength(json)} bytes`,
      );
    }
    return rows;
  })();
}

async function luaRows(ctx: BenchContext): Promise<MicroRow[]> {
  const redis = ctx.redis;
  const scripts = await loadScripts(redis);
  const smoke = ctx.settings.smoke;
  const cell = '9001'; // a bench-only cell: no platform process touches it
  const tag = `mb${ctx.runId}`;
  const saleId = `${tag}s`;
  const now = Date.now();
  const units = 100_000_000;
  await createSale(redis, { saleId, initial: units + 1_000_000 });
  await configureSaleCell(redis, {
    cell,
    saleId,
    startsAt: 1,
    endsAt: 1e13,
    perUserLimit: 1000,
    reservationTtlMs: 3_600_000,
  });
  await transferQuota(scripts, {
    saleId,
    transferId: `${tag}t0`,
    amount: units,
    from: 'pool',
    to: { cell },
    now,
  });
  await scripts.stockAdjust({
    cell,
    adjustId: `${tag}a0`,
    sku: `${tag}A`,
    mode: 'set',
    value: 1e9,
    reason: 'bench',
    now,
  });
  await scripts.stockAdjust({
    cell,
    adjustId: `${tag}b0`,
    sku: `${tag}B`,
    mode: 'set',
    value: 1e9,
    reason: 'bench',
    now,
  });
  await defineVoucher(redis, {
    voucherId: `${tag}v`,
    limit: 1e9,
    perUserLimit: 1e6,
    startsAt: 1,
    endsAt: 1e13,
  });

  let n = 0;
  const reservations: string[] = [];
  const holds: string[] = [];
  const rows: MicroRow[] = [];
  const attempt = (i: number, small = false) => ({
    userId: `${tag}u${i % 5000}`,
    deviceId: `${tag}d${i % 800}`,
    ip: `10.1.${(i >> 8) & 255}.${i & 255}`,
    cardFingerprint: `${tag}c${i % 3000}`,
    small,
  });
  const cases: [string, number, () => Promise<unknown>][] = [
    [
      'flash-sale-purchase (batch of 1, reserves)',
      1,
      async () => {
        const i = ++n;
        const [r] = await scripts.flashSalePurchase({
          cell,
          saleId,
          now: Date.now(),
          requests: [{ userId: `${tag}p${i}`, quantity: 1, idempotencyKey: `k${i}` }],
        });
        if (r?.status === 'reserved') reservations.push(r.reservationId);
      },
    ],
    [
      `flash-sale-purchase (batch of ${MAX_PURCHASE_BATCH}, all reserve), per purchase`,
      MAX_PURCHASE_BATCH,
      async () => {
        const requests = Array.from({ length: MAX_PURCHASE_BATCH }, () => {
          const i = ++n;
          return { userId: `${tag}p${i}`, quantity: 1, idempotencyKey: `k${i}` };
        });
        await scripts.flashSalePurchase({ cell, saleId, now: Date.now(), requests });
      },
    ],
    [
      'reservation-settle (commit)',
      1,
      () =>
        scripts.reservationCommit({
          cell,
          saleId,
          reservationId: reservations.pop() ?? '1',
          now: Date.now(),
        }),
    ],
    [
      'reservation-sweep (nothing expired, limit 100)',
      1,
      () => scripts.reservationSweep({ cell, saleId, now: Date.now(), limit: 100 }),
    ],
    [
      'cart-reserve (2 SKUs)',
      1,
      async () => {
        const holdId = `${tag}h${++n}`;
        await scripts.cartReserve({
          cell,
          holdId,
          now: Date.now(),
          ttlMs: 600_000,
          items: [
            { sku: `${tag}A`, quantity: 1 },
            { sku: `${tag}B`, quantity: 2 },
          ],
        });
        holds.push(holdId);
      },
    ],
    [
      'cart-settle (release)',
      1,
      () => scripts.cartRelease({ cell, holdId: holds.pop() ?? `${tag}none`, now: Date.now() }),
    ],
    [
      'cart-sweep (nothing expired, limit 100)',
      1,
      () => scripts.cartSweep({ cell, now: Date.now(), limit: 100 }),
    ],
    [
      'stock-adjust (delta)',
      1,
      () =>
        scripts.stockAdjust({
          cell,
          adjustId: `${tag}j${++n}`,
          sku: `${tag}A`,
          mode: 'delta',
          value: 1,
          reason: 'bench',
          now: Date.now(),
        }),
    ],
    [
      'quota-debit + quota-credit + quota-settle (one transfer)',
      3,
      () =>
        transferQuota(scripts, {
          saleId,
          transferId: `${tag}t${++n}`,
          amount: 1,
          from: 'pool',
          to: { cell },
          now: Date.now(),
        }),
    ],
    [
      'voucher-claim',
      1,
      () =>
        scripts.voucherClaim({
          voucherId: `${tag}v`,
          orderId: `${tag}o${++n}`,
          userId: `${tag}u${n % 1000}`,
          now: Date.now(),
        }),
    ],
    [
      'rate-limit',
      1,
      () =>
        scripts.rateLimit({
          cell,
          name: `${tag}rl`,
          capacity: 1_000_000,
          refillTokens: 1_000_000,
          refillMs: 1000,
          now: Date.now(),
        }),
    ],
    [
      'idempotency-begin + idempotency-end (complete)',
      2,
      async () => {
        const ref = { cell, scope: `${tag}scope`, key: `k${++n}` };
        await scripts.idempotencyBegin({
          ...ref,
          fingerprint: 'f',
          token: 't',
          leaseMs: 10_000,
          now: Date.now(),
        });
        await scripts.idempotencyComplete({
          ...ref,
          token: 't',
          status: 201,
          body: '{"ok":true}',
          ttlMs: 60_000,
        });
      },
    ],
    [
      'fraud-velocity (1 attempt)',
      1,
      () => scripts.fraudVelocity({ cell, now: Date.now(), attempts: [attempt(++n)] }),
    ],
    [
      `fraud-velocity (batch of ${MAX_FRAUD_BATCH}), per attempt`,
      MAX_FRAUD_BATCH,
      () =>
        scripts.fraudVelocity({
          cell,
          now: Date.now(),
          attempts: Array.from({ length: MAX_FRAUD_BATCH }, (_, j) => attempt(++n, j % 3 === 0)),
        }),
    ],
  ];
  for (const [name, perCall, fn] of cases) {
    let calls = 0;
    const s0 = await redisCommandStats(redis);
    const r = await runOne(name, smoke, async () => {
      calls++;
      await fn();
    });
    const s1 = await redisCommandStats(redis);
    const usec =
      (s1.get('evalsha')?.usec ?? 0) -
      (s0.get('evalsha')?.usec ?? 0) +
      (s1.get('eval')?.usec ?? 0) -
      (s0.get('eval')?.usec ?? 0);
    const perItem = perCall === MAX_PURCHASE_BATCH || perCall === MAX_FRAUD_BATCH ? perCall : 1;
    rows.push({
      group: 'lua via ioredis',
      task: name,
      opsPerSecond: (1000 / r.periodMs) * perItem,
      nsPerOp: (r.periodMs * 1e6) / perItem,
      redisUsPerCall: usec / Math.max(1, calls) / perItem,
      note: 'one awaited call at a time (round trip); Redis us = EVALSHA execution time per item, INFO commandstats',
    });
  }
  return rows;
}

export async function microScenario(ctx: BenchContext): Promise<MicroRow[]> {
  ctx.log('micro');
  const rows = [...(await cpuRows(ctx.settings.smoke)), ...(await luaRows(ctx))];
  for (const r of rows) {
    ctx.log(
      `  ${r.group}: ${r.task}: ${(r.nsPerOp / 1000).toFixed(3)} us${r.redisUsPerCall === undefined ? '' : `, Redis ${r.redisUsPerCall.toFixed(1)} us`}`,
    );
  }
  if (sink === 0.5) ctx.log('unreachable');
  return rows;
}
