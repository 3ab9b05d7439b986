/**
 * The purchase hammer, shared by the single-server test (purchase-hammer.test.ts) and the Redis Cluster test
 * (cluster.test.ts): thousands of concurrent purchase attempts, in random batches over several connections,
 * against a cell holding far less stock than demand; then commits, releases and a second wave at once, expiry,
 * and quota moved back to the pool. Asserts no oversell, the per-user limit, idempotent replays, one outbox
 * event per reservation and a balanced ledger throughout. The seed is in every assertion message.
 */
import assert from 'node:assert/strict';
import { configureSaleCell, readSaleLedger } from './admin.ts';
import { saleCellKeys } from './keys.ts';
import {
  MAX_PURCHASE_BATCH,
  type PurchaseRequest,
  type PurchaseResult,
  type TitanScripts,
} from './loader.ts';
import { transferQuota } from './quota-transfer.ts';
import { outboxEvents, setupSale, uid } from './test-support.ts';

export interface HammerOptions {
  /** Runs set-up, transfers, sweeps and reads. */
  readonly main: TitanScripts;
  /** The connections the attempts are spread over, all at once. */
  readonly connections: readonly TitanScripts[];
  readonly attempts: number;
  readonly users: number;
  /** The cell's quota: demand far exceeds it. */
  readonly units: number;
  readonly limit: number;
  /** The cell under fire, a second cell of the sale (50 units) and the sale id; fresh ids by default. */
  readonly cell?: string;
  readonly otherCell?: string;
  readonly saleId?: string;
  readonly seed?: number;
}

const NOW = 1_500_000;
const TTL = 60_000;

/** A deterministic PRNG, so a failure can be replayed with the seed printed in the assertion message. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Attempt extends PurchaseRequest {
  readonly n: number;
}

/** Sends the attempts in random-size batches over all connections at once; returns results by attempt. */
async function hammer(
  pool: readonly TitanScripts[],
  cell: string,
  saleId: string,
  attempts: Attempt[],
  rand: () => number,
  now: number,
) {
  const batches: Attempt[][] = [];
  for (let i = 0; i < attempts.length; ) {
    const size = 1 + Math.floor(rand() * MAX_PURCHASE_BATCH);
    batches.push(attempts.slice(i, i + size));
    i += size;
  }
  const results: PurchaseResult[] = new Array(attempts.length);
  let next = 0;
  await Promise.all(
    pool.map(async (s) => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const out = await s.flashSalePurchase({ cell, saleId, now, requests: batch });
        batch.forEach((a, i) => {
          results[a.n] = out[i]!;
        });
      }
    }),
  );
  return results;
}

/** Runs the hammer (see the file's comment); throws an AssertionError naming the seed when a rule breaks. */
export async function runPurchaseHammer(o: HammerOptions): Promise<void> {
  const { main, connections: pool } = o;
  const ATTEMPTS = o.attempts;
  const USERS = o.users;
  const UNITS = o.units;
  const LIMIT = o.limit;
  const CONNECTIONS = pool.length;
  const seed = o.seed ?? Date.now() % 1_000_000;
  const rand = rng(seed);
  const msg = `seed ${seed}`;
  const initial = UNITS + 200;
  const sale = await setupSale(main, {
    initial,
    quota: UNITS,
    perUserLimit: LIMIT,
    ttlMs: TTL,
    ...(o.cell === undefined ? {} : { cell: o.cell }),
    ...(o.saleId === undefined ? {} : { saleId: o.saleId }),
  });
  const other = o.otherCell ?? uid('c');
  await configureSaleCell(main.redis, {
    cell: other,
    saleId: sale.saleId,
    startsAt: sale.startsAt,
    endsAt: sale.endsAt,
    perUserLimit: LIMIT,
    reservationTtlMs: TTL,
  });
  await transferQuota(main, {
    saleId: sale.saleId,
    transferId: 'other',
    amount: 50,
    from: 'pool',
    to: { cell: other },
    now: NOW,
  });
  const cells = [sale.cell, other];
  const redis = main.redis;

  // 5% of attempts replay an earlier idempotency key of the same user (a client retry)
  const attempts: Attempt[] = [];
  const lastKey = new Map<string, { key: string; quantity: number }>();
  for (let n = 0; n < ATTEMPTS; n++) {
    const userId = `u${Math.floor(rand() * USERS)}`;
    const prev = lastKey.get(userId);
    // a retry resends the same request: same key, same quantity
    const replay = prev !== undefined && rand() < 0.05;
    const idempotencyKey = replay ? prev.key : `k${n}`;
    const quantity = replay ? prev.quantity : rand() < 0.7 ? 1 : 2;
    lastKey.set(userId, { key: idempotencyKey, quantity });
    attempts.push({ n, userId, idempotencyKey, quantity });
  }
  const results = await hammer(pool, sale.cell, sale.saleId, attempts, rand, NOW);

  // exactly min(demand, stock) units reserved: demand (thousands of users) far exceeds the 100 units
  const perUser = new Map<string, number>();
  const firstByKey = new Map<string, PurchaseResult>();
  const rids = new Set<string>();
  const qtyOf = new Map<string, number>();
  let units = 0;
  for (const a of attempts) {
    const r = results[a.n]!;
    const key = `${a.userId}:${a.idempotencyKey}`;
    if (r.status === 'duplicate') {
      // the replay answers what the first request with that key got, whichever batch ran first
      assert.ok(
        firstByKey.has(key) || attempts.some((b) => b.n > a.n && `${b.userId}:${b.idempotencyKey}` === key),
        msg,
      );
      continue;
    }
    // SOLD_OUT is not recorded, so a key may be answered again after one; anything else is final.
    // (batches on several connections run in any order, so either answer may come first here).
    const earlier = firstByKey.get(key);
    assert.ok(
      !earlier || earlier.status === 'sold_out' || r.status === 'sold_out',
      `${msg}: key ${key} answered twice without DUPLICATE`,
    );
    if (!earlier || earlier.status === 'sold_out') firstByKey.set(key, r);
    if (r.status === 'sold_out') continue;
    if (r.status === 'reserved') {
      units += a.quantity;
      perUser.set(a.userId, (perUser.get(a.userId) ?? 0) + a.quantity);
      assert.ok(!rids.has(r.reservationId), `${msg}: reservation id ${r.reservationId} reused`);
      rids.add(r.reservationId);
      qtyOf.set(r.reservationId, a.quantity);
    }
  }
  for (const a of attempts) {
    const r = results[a.n]!;
    if (r.status === 'duplicate')
      assert.deepEqual(r.original, firstByKey.get(`${a.userId}:${a.idempotencyKey}`), msg);
  }
  assert.equal(units, UNITS, msg);
  for (const [user, n] of perUser) assert.ok(n <= LIMIT, `${msg}: ${user} holds ${n}`);
  const k = saleCellKeys(sale.cell, sale.saleId);
  assert.deepEqual(await redis.hmget(k.sale, 'q', 'r', 's'), ['0', String(UNITS), '0'], msg);
  const stored = await redis.hgetall(k.users);
  for (const [field, v] of Object.entries(stored)) {
    if (!field.includes(':')) assert.ok(Number(v) >= 1 && Number(v) <= LIMIT, `${msg}: ${field}=${v}`);
  }
  const created = (await outboxEvents(redis, sale.cell)).filter((e) => e.type === 'reservation.created');
  assert.equal(created.length, rids.size, msg);
  assert.deepEqual(new Set(created.map((e) => e.data.split('|')[1])), rids, msg);
  assert.equal(await redis.zcard(k.expiry), rids.size, msg);
  assert.equal((await readSaleLedger(redis, sale.saleId, cells)).balanced, true, msg);

  // commit a third, and release a third while a second wave of new users buys the freed units
  const ids = [...rids];
  const commits = ids.filter((_, i) => i % 3 === 0);
  const releases = ids.filter((_, i) => i % 3 === 1);
  const wave: Attempt[] = Array.from({ length: 2000 }, (_, n) => ({
    n,
    userId: `w${n % 700}`,
    idempotencyKey: `w${n}`,
    quantity: 1,
  }));
  const ref = (reservationId: string) => ({
    cell: sale.cell,
    saleId: sale.saleId,
    reservationId,
    now: NOW + 10,
  });
  const [committed, released, waveResults] = await Promise.all([
    Promise.all(commits.map((id, i) => pool[i % CONNECTIONS]!.reservationCommit(ref(id)))),
    Promise.all(releases.map((id, i) => pool[i % CONNECTIONS]!.reservationRelease(ref(id)))),
    hammer(pool, sale.cell, sale.saleId, wave, rand, NOW + 10),
  ]);
  const ledger = await readSaleLedger(redis, sale.saleId, cells);
  const cellA = ledger.cells[sale.cell]!;
  assert.ok(cellA.quota >= 0, msg);
  assert.equal(cellA.quota + cellA.reserved + cellA.sold, UNITS, msg);
  assert.ok(committed.every((r) => r === 'COMMITTED') && released.every((r) => r === 'RELEASED'), msg);
  assert.equal(
    cellA.sold,
    commits.reduce((sum, id) => sum + qtyOf.get(id)!, 0),
    msg,
  );
  const waveUnits = waveResults.filter((r) => r.status === 'reserved').length;
  assert.ok(waveUnits <= UNITS - cellA.sold, msg);
  assert.equal(ledger.balanced, true, msg);

  // everything still reserved expires; then move the leftover quota back to the pool
  let swept = 0;
  for (;;) {
    const r = await main.reservationSweep({
      cell: sale.cell,
      saleId: sale.saleId,
      now: NOW + TTL + 10,
      limit: 100,
    });
    swept += r.expired;
    if (!r.more) break;
  }
  assert.equal(swept, rids.size - commits.length - releases.length + waveUnits, msg);
  const end = await readSaleLedger(redis, sale.saleId, cells);
  assert.equal(end.cells[sale.cell]?.reserved, 0, msg);
  assert.equal(end.cells[sale.cell]?.quota, UNITS - end.cells[sale.cell]!.sold, msg);
  await transferQuota(main, {
    saleId: sale.saleId,
    transferId: 'back',
    amount: end.cells[sale.cell]!.quota,
    from: { cell: sale.cell },
    to: 'pool',
    now: NOW + TTL + 20,
  });
  const final = await readSaleLedger(redis, sale.saleId, cells);
  assert.equal(final.sold + final.reserved + final.quotas + final.pool, initial, msg);
  assert.equal(final.inFlight, 0, msg);
  const events = await outboxEvents(redis, sale.cell);
  const count = (t: string) => events.filter((e) => e.type === t).length;
  const committedUnits = events
    .filter((e) => e.type === 'reservation.committed')
    .reduce((sum, e) => sum + Number(e.data.split('|')[3]), 0);
  assert.equal(committedUnits, final.sold, msg);
  assert.equal(
    count('reservation.created'),
    count('reservation.committed') + count('reservation.released') + count('reservation.expired'),
    msg,
  );
}
