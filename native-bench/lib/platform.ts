/**
 * The platform calls the benchmarks make outside the measured runs: the operator's sales (created, ended
 * through the edge's admin API, as operators do), a sale's state as the edge serves it, and the sale's
 * counters read straight from the cells' Redis keys (to prove which path a run measured).
 */
import type { Redis } from 'ioredis';
import { request } from 'undici';
import { outboxKey, saleCellKeys } from '../../lua/keys.ts';
import { relayCursorKey } from '../../services/events/index.ts';

async function call(
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; key?: string } = {},
  // biome-ignore lint/suspicious/noExplicitAny: answers of several shapes, read field by field by the callers
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.key) headers['idempotency-key'] = opts.key;
  const r = await request(url, {
    method: method as 'GET',
    headers,
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
  });
  const text = await r.body.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: r.statusCode, body };
}

export async function loginOperator(authUrl: string, email: string, password: string): Promise<string> {
  const r = await call('POST', `${authUrl}/v1/auth/login`, { body: { email, password } });
  if (r.status !== 200) throw new Error(`operator login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.accessToken;
}

let saleSeq = 0;

/**
 * Creates a sale through the edge and waits until the edge serves it: live now, or (with `startsAtMs`)
 * scheduled to open then.
 */
export async function createSale(
  edgeUrl: string,
  operatorToken: string,
  input: { stock: number; perUserLimit: number; title: string; sku?: string; startsAtMs?: number },
): Promise<string> {
  const now = Date.now();
  const startsAt = input.startsAtMs ?? now - 1000;
  const r = await call('POST', `${edgeUrl}/v1/admin/flash-sales`, {
    token: operatorToken,
    key: `bench-sale-${process.pid}-${now}-${++saleSeq}`,
    body: {
      sku: input.sku ?? 'BENCH-PHONE-1',
      title: input.title,
      priceMinor: 19_900,
      currency: 'EUR',
      stock: input.stock,
      perUserLimit: input.perUserLimit,
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(now + 6 * 3600_000).toISOString(),
      reservationTtlSeconds: 3600,
    },
  });
  if (r.status !== 201) throw new Error(`cannot create a sale: ${r.status} ${JSON.stringify(r.body)}`);
  const id = r.body.saleId as string;
  await waitForSale(edgeUrl, id, (s) => s.state === (startsAt > Date.now() ? 'scheduled' : 'live'));
  return id;
}

export async function endSale(edgeUrl: string, operatorToken: string, id: string): Promise<void> {
  await call('POST', `${edgeUrl}/v1/admin/flash-sales/${id}/end`, { token: operatorToken });
}

export async function waitForSale(
  edgeUrl: string,
  id: string,
  until: (sale: { state: string; remaining: number }) => boolean,
  timeoutMs = 20_000,
): Promise<{ state: string; remaining: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call('GET', `${edgeUrl}/v1/flash-sales/${id}`);
    if (r.status === 200 && until(r.body)) return r.body;
    if (Date.now() > deadline)
      throw new Error(`sale ${id} never reached the expected state: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export interface SaleCounters {
  /** Units reserved (one per successful purchase of qty 1). */
  reserved: number;
  /** Requests answered SOLD_OUT by the script. */
  soldOut: number;
  /** Quota left in the cells. */
  quota: number;
}

/** Redis's memory in use and AOF size (bytes), and how many AOF rewrites it has done: deltas over a run. */
export async function redisFootprint(redis: Redis): Promise<Record<string, number>> {
  const memory = await redis.info('memory');
  const persistence = await redis.info('persistence');
  const field = (text: string, name: string) =>
    Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return {
    redisMemoryBytes: field(memory, 'used_memory'),
    aofBytes: field(persistence, 'aof_current_size'),
    aofRewrites: field(persistence, 'aof_rewrites'),
  };
}

/**
 * Waits until the outbox relay has moved every event the cells' outboxes hold (its cursor at each stream's
 * last id). A run's CPU window includes this wait, so the relay's work for the run's purchases is charged to
 * them and not to the next run.
 */
export async function relayCaughtUp(redis: Redis, cells: number[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let behind = 0;
    for (const cell of cells) {
      const info = (await redis.xinfo('STREAM', outboxKey(String(cell))).catch(() => null)) as
        | unknown[]
        | null;
      if (info === null) continue;
      const last = String(info[info.indexOf('last-generated-id') + 1]);
      const cursor = (await redis.hget(relayCursorKey(cell), 'id')) ?? '0-0';
      if (cursor !== last) behind++;
    }
    if (behind === 0) return;
    if (Date.now() > deadline) throw new Error(`the outbox relay is still behind on ${behind} cells`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Rewrites Redis's AOF now and waits for it: a rewrite forks Redis and keeps a core busy for seconds once the
 * dataset is large (the bus keeps every event), so one starting in the middle of a run would measure the
 * rewrite. After this one, the AOF must double before Redis starts another.
 */
export async function compactAof(redis: Redis, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const busy = async () => /aof_rewrite_(in_progress|scheduled):1/.test(await redis.info('persistence'));
  while (await busy()) {
    if (Date.now() > deadline) throw new Error('an AOF rewrite did not finish');
    await new Promise((r) => setTimeout(r, 100));
  }
  await redis.bgrewriteaof();
  await new Promise((r) => setTimeout(r, 100));
  while (await busy()) {
    if (Date.now() > deadline) throw new Error('the AOF rewrite did not finish');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Memory used by a sale's keys in the cells (MEMORY USAGE, exact): what the purchase script itself keeps. */
export async function saleKeysBytes(redis: Redis, saleId: string, cells: number[]): Promise<number> {
  let total = 0;
  for (const cell of cells) {
    const k = saleCellKeys(String(cell), saleId);
    for (const key of [k.sale, k.users, k.reservations, k.expiry]) {
      total += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    }
  }
  return total;
}

/** Sums of the sale's per-cell counters, read from the cells' hashes. */
export async function saleCounters(redis: Redis, saleId: string, cells: number[]): Promise<SaleCounters> {
  const out: SaleCounters = { reserved: 0, soldOut: 0, quota: 0 };
  for (const cell of cells) {
    const [r, so, q] = await redis.hmget(saleCellKeys(String(cell), saleId).sale, 'r', 'so', 'q');
    out.reserved += Number(r ?? 0);
    out.soldOut += Number(so ?? 0);
    out.quota += Number(q ?? 0);
  }
  return out;
}

/**
 * Primes a purchase target before any timed load: sends rounds of concurrent purchases (distinct buyers,
 * so every cell's pool starts its threads) until a whole round is answered with `expect` statuses.
 */
export async function primePurchases(
  base: string,
  saleId: string,
  tokens: string[],
  expect: number[],
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const round = tokens.slice(0, 32);
  let n = 0;
  for (;;) {
    const statuses = await Promise.all(
      round.map(async (token) => {
        const r = await request(`${base}/v1/flash-sales/${saleId}/purchase`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'idempotency-key': `prime-${process.pid}-${Date.now()}-${++n}`,
            'content-type': 'application/json',
          },
          body: '{"qty":1}',
          headersTimeout: 30_000,
        }).catch(() => undefined);
        await r?.body.dump();
        return r?.statusCode ?? 0;
      }),
    );
    if (statuses.every((s) => expect.includes(s))) return;
    if (Date.now() > deadline)
      throw new Error(`${base} never answered purchases as expected: ${statuses.join(',')}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
