// The flash sale end to end: operators create sales through the edge, buyers purchase through the
// edge into their cells' engines, the control plane rebalances quota and sweeps expiries.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { WebSocket } from 'undici';
import { solveChallenge } from '../../services/flash-sale/index.ts';
import { type EdgeHarness, startEdge, testMap } from './edge-harness.ts';

const execFileAsync = promisify(execFile);
let h: EdgeHarness;
let operatorToken = '';
let operatorEmail = '';
before(async () => {
  h = await startEdge({
    map: testMap(4),
    flashSale: true,
    env: { TITAN_EDGE_USER_RATE: '1000', TITAN_EDGE_USER_BURST: '1000' },
  });
  const op = await h.user();
  operatorEmail = op.email;
  await h.identity.db.pool.query("UPDATE users SET roles = ARRAY['buyer','operator'] WHERE id = $1", [
    op.userId,
  ]);
  const login = await h.call('POST', '/v1/auth/login', {
    body: { email: op.email, password: 'correct horse battery' },
  });
  operatorToken = login.body.accessToken;
});
after(() => h.stop());

let keySeq = 0;
const key = () => `k-${process.pid}-${++keySeq}`;

async function createSale(overrides: Record<string, unknown> = {}): Promise<string> {
  const now = Date.now();
  const r = await h.call('POST', '/v1/admin/flash-sales', {
    token: operatorToken,
    headers: { 'idempotency-key': key() },
    body: {
      sku: 'FLASH-PHONE-1',
      title: 'Test phone',
      priceMinor: 19_900,
      currency: 'EUR',
      stock: 10,
      perUserLimit: 2,
      startsAt: new Date(now - 1000).toISOString(),
      endsAt: new Date(now + 3600_000).toISOString(),
      ...overrides,
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await waitForSale(r.body.saleId);
  return r.body.saleId;
}

async function waitForSale(id: string, until: (s: any) => boolean = () => true) {
  for (let i = 0; i < 200; i++) {
    const r = await h.call('GET', `/v1/flash-sales/${id}`);
    if (r.status === 200 && until(r.body)) return r.body;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`sale ${id} never reached the expected state`);
}

/**
 * A purchase as a well-behaved client makes it: a 503 (BUSY: e.g. the cell's quota is being topped up
 * by the rebalancer) is retried with the same Idempotency-Key. Tests wait 30 ms, not the Retry-After.
 */
async function purchase(
  saleId: string,
  token: string,
  body: unknown = { qty: 1 },
  idem: string | null = key(),
) {
  for (let attempt = 0; ; attempt++) {
    const r = await h.call('POST', `/v1/flash-sales/${saleId}/purchase`, {
      token,
      body,
      ...(idem === null ? {} : { headers: { 'idempotency-key': idem } }),
    });
    if (r.status !== 503 || r.body.code !== 'BUSY' || attempt >= 200) return r;
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    await new Promise((res) => setTimeout(res, 30));
  }
}

async function ledger(saleId: string) {
  const r = await h.call('GET', `/v1/admin/flash-sales/${saleId}/ledger`, { token: operatorToken });
  assert.equal(r.status, 200);
  return r.body as {
    stock: number;
    sold: number;
    reserved: number;
    quotas: number;
    pool: number;
    balanced: boolean;
  };
}

describe('control plane', () => {
  test('operators create sales once per Idempotency-Key; bad input is a 400; buyers are refused', async () => {
    const now = Date.now();
    const body = {
      sku: 'FLASH-TV-1',
      title: 'TV',
      priceMinor: 50_000,
      currency: 'EUR',
      stock: 5,
      perUserLimit: 1,
      startsAt: new Date(now + 3600_000).toISOString(),
      endsAt: new Date(now + 7200_000).toISOString(),
    };
    const k = key();
    const first = await h.call('POST', '/v1/admin/flash-sales', {
      token: operatorToken,
      headers: { 'idempotency-key': k },
      body,
    });
    assert.equal(first.status, 201);
    const replay = await h.call('POST', '/v1/admin/flash-sales', {
      token: operatorToken,
      headers: { 'idempotency-key': k },
      body,
    });
    assert.deepEqual(replay.body, first.body);
    const reused = await h.call('POST', '/v1/admin/flash-sales', {
      token: operatorToken,
      headers: { 'idempotency-key': k },
      body: { ...body, stock: 6 },
    });
    assert.equal(reused.status, 422);
    assert.equal(
      (await h.call('POST', '/v1/admin/flash-sales', { token: operatorToken, body })).body.code,
      'IDEMPOTENCY_KEY_REQUIRED',
    );
    for (const bad of [
      { ...body, priceMinor: 10.5 },
      { ...body, stock: 0 },
      { ...body, endsAt: body.startsAt },
      { ...body, currency: 'euro' },
      { ...body, extra: 1 },
    ]) {
      const r = await h.call('POST', '/v1/admin/flash-sales', {
        token: operatorToken,
        headers: { 'idempotency-key': key() },
        body: bad,
      });
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.ok(['VALIDATION_FAILED', 'SALE_INVALID'].includes(r.body.code));
    }
    const buyer = await h.user();
    const denied = await h.call('POST', '/v1/admin/flash-sales', {
      token: buyer.token,
      headers: { 'idempotency-key': key() },
      body,
    });
    assert.equal(denied.status, 403);
    const sale = await waitForSale(first.body.saleId);
    assert.equal(sale.state, 'scheduled');
    const list = await h.call('GET', '/v1/flash-sales');
    assert.ok(list.body.sales.some((s: { id: string }) => s.id === first.body.saleId));
    assert.equal(sale.remaining, 5);
    // A scheduled sale refuses purchases, and can still be changed.
    assert.equal((await purchase(first.body.saleId, buyer.token)).body.code, 'NOT_STARTED');
    const patched = await h.call('PATCH', `/v1/admin/flash-sales/${first.body.saleId}`, {
      token: operatorToken,
      body: { title: 'Big TV' },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.title, 'Big TV');
  });
});

describe('purchase', () => {
  test('every answer: reserved, replay, limit, validation, missing key, unknown sale, no token, sold out', async () => {
    const saleId = await createSale({ stock: 3, perUserLimit: 2 });
    const a = await h.user();
    const k = key();
    const first = await purchase(saleId, a.token, { qty: 1 }, k);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.match(first.body.reservationId, new RegExp(`^${saleId}-\\d+-\\d+$`));
    assert.equal(first.body.qty, 1);
    const replay = await purchase(saleId, a.token, { qty: 1 }, k);
    assert.deepEqual(replay.body, first.body, 'a replay answers the first result, no second reservation');
    const reused = await purchase(saleId, a.token, { qty: 2 }, k);
    assert.equal(reused.status, 422, 'the same key for another quantity is another request');
    assert.equal(reused.body.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal((await purchase(saleId, a.token, { qty: 3 })).body.code, 'BAD_QUANTITY');
    assert.equal((await purchase(saleId, a.token, { qty: 0 })).body.code, 'VALIDATION_FAILED');
    assert.equal((await purchase(saleId, a.token, { qty: 1.5 })).body.code, 'VALIDATION_FAILED');
    assert.equal((await purchase(saleId, a.token, { qty: 1 }, null)).body.code, 'IDEMPOTENCY_KEY_REQUIRED');
    assert.equal((await purchase('fsnope', a.token)).status, 404);
    assert.equal(
      (await h.call('POST', `/v1/flash-sales/${saleId}/purchase`, { body: { qty: 1 } })).status,
      401,
    );
    assert.equal((await purchase(saleId, a.token, { qty: 1 })).status, 200);
    const limit = await purchase(saleId, a.token, { qty: 1 });
    assert.equal(limit.status, 409);
    assert.equal(limit.body.code, 'LIMIT_REACHED');
    const b = await h.user();
    assert.equal((await purchase(saleId, b.token, { qty: 1 })).status, 200);
    const c = await h.user();
    const sold = await purchase(saleId, c.token, { qty: 1 });
    assert.equal(sold.status, 409);
    assert.equal(sold.body.code, 'SOLD_OUT');
    const l = await ledger(saleId);
    assert.deepEqual([l.reserved, l.quotas + l.pool, l.balanced], [3, 0, true]);
    // Reservation status is visible to its owner only.
    const mine = await h.call('GET', `/v1/reservations/${first.body.reservationId}`, { token: a.token });
    assert.equal(mine.status, 200);
    assert.equal(mine.body.status, 'reserved');
    assert.equal(
      (await h.call('GET', `/v1/reservations/${first.body.reservationId}`, { token: b.token })).status,
      404,
    );
  });

  test('a sale with proof of work refuses purchases without a valid proof', async () => {
    const saleId = await createSale({ powDifficulty: 8 });
    const u = await h.user();
    assert.equal((await purchase(saleId, u.token)).body.code, 'BAD_POW');
    const ch = await h.call('GET', `/v1/flash-sales/${saleId}/challenge`, { token: u.token });
    assert.equal(ch.status, 200);
    assert.equal(ch.body.difficulty, 8);
    const wrong = await purchase(saleId, u.token, {
      qty: 1,
      pow: { challenge: ch.body.challenge, nonce: 'nope' },
    });
    const nonce = solveChallenge(ch.body.challenge, 8);
    if (nonce !== 'nope') assert.equal(wrong.body.code, 'BAD_POW');
    const other = await h.user();
    assert.equal(
      (await purchase(saleId, other.token, { qty: 1, pow: { challenge: ch.body.challenge, nonce } })).body
        .code,
      'BAD_POW',
      'bound to its user',
    );
    assert.equal(
      (await purchase(saleId, u.token, { qty: 1, pow: { challenge: ch.body.challenge, nonce } })).status,
      200,
    );
  });

  test('the purchase route: warm lanes before the first buyer, the same answers for every body shape, metrics, OpenAPI', async () => {
    const saleId = await createSale({ stock: 5, perUserLimit: 5 });
    // The edge warmed every cell's flash-sale lane when it learned of the sale, before anyone bought.
    const lanes = h.edge.engine.stats().filter((s) => s.pool === 'flashSale');
    assert.equal(lanes.length, h.edge.routing.router.cells.length, 'a lane per cell');
    assert.ok(
      lanes.every((s) => s.threads >= 1),
      `threads per cell ${lanes.map((s) => s.threads)}`,
    );
    const u = await h.user();
    // As a client retries: a 503 (the cell's quota being topped up) again with the same key.
    const post = async (raw: string, headers: Record<string, string> = {}, id = saleId) => {
      const idem = key();
      for (let attempt = 0; ; attempt++) {
        const r = await h.call('POST', `/v1/flash-sales/${id}/purchase`, {
          token: u.token,
          raw,
          headers: { 'content-type': 'application/json', 'idempotency-key': idem, ...headers },
        });
        if (r.status !== 503 || attempt >= 100) return r;
        await new Promise((res) => setTimeout(res, 30));
      }
    };
    const spaced = await post('{ "qty" : 1 }', { 'x-request-id': 'lean-1' });
    assert.equal(spaced.status, 200, JSON.stringify(spaced.body));
    assert.equal(spaced.headers.get('x-request-id'), 'lean-1');
    assert.match(spaced.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(spaced.body.expiresAt, /^\d{4}-\d\d-\d\dT/);
    const malformed = await post('{"qty":');
    assert.deepEqual([malformed.status, malformed.body.code], [400, 'MALFORMED_JSON']);
    const extra = await post('{"qty":1,"x":2}');
    assert.deepEqual([extra.status, extra.body.code], [400, 'VALIDATION_FAILED']);
    const zero = await post('{"qty":0}');
    assert.deepEqual([zero.status, zero.body.code], [400, 'VALIDATION_FAILED']);
    assert.match(zero.body.message, /^body\/qty/, 'the field is named');
    const leading = await post('{"qty":01}');
    assert.equal(leading.body.code, 'MALFORMED_JSON', 'JSON has no leading zeros, fast path or not');
    const empty = await post('');
    assert.deepEqual([empty.status, empty.body.code], [400, 'VALIDATION_FAILED']);
    const badId = await post('{"qty":1}', {}, 'fs%zz');
    assert.deepEqual([badId.status, badId.body.code], [400, 'BAD_REQUEST']);
    const encoded = await post('{"qty":1}', {}, `%${saleId.charCodeAt(0).toString(16)}${saleId.slice(1)}`);
    assert.equal(encoded.status, 200, 'a percent-encoded id is decoded as on every route');
    const wrongId = await post('{"qty":1}', {}, 'no-such');
    assert.deepEqual([wrongId.status, wrongId.body.code], [400, 'VALIDATION_FAILED']);
    const noToken = await h.call('POST', `/v1/flash-sales/${saleId}/purchase`, { body: { qty: 1 } });
    assert.deepEqual([noToken.status, noToken.body.code], [401, 'UNAUTHENTICATED']);
    const wrongMethod = await h.call('PUT', `/v1/flash-sales/${saleId}/purchase`, { token: u.token });
    assert.equal(wrongMethod.status, 405);
    assert.match(wrongMethod.headers.get('allow') ?? '', /POST/);
    const metrics = (await h.call('GET', '/metrics')).body as string;
    const served = metrics
      .split('\n')
      .find(
        (l) =>
          l.startsWith('titan_http_requests_total{') &&
          l.includes('/v1/flash-sales/:id/purchase') &&
          l.includes('status="200"'),
      );
    assert.ok(served && Number(served.split(' ').pop()) >= 2, `purchase 200s counted: ${served}`);
    const doc = (await h.call('GET', '/v1/openapi.json')).body;
    assert.ok(doc.paths['/v1/flash-sales/{id}/purchase']?.post, 'the purchase is in the OpenAPI document');
    assert.ok(doc.paths['/v1/flash-sales/{id}']?.get, 'so is the status');
    // The status route: the view from memory, the same refusals as any route.
    const status = await h.call('GET', `/v1/flash-sales/${saleId}`, { headers: { 'x-request-id': 'st-1' } });
    assert.equal(status.status, 200);
    assert.equal(status.headers.get('x-request-id'), 'st-1');
    assert.deepEqual(
      [status.body.id, status.body.state, status.body.perUserLimit, typeof status.body.remaining],
      [saleId, 'live', 5, 'number'],
    );
    const unknown = await h.call('GET', '/v1/flash-sales/fsnosuchsale');
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'SALE_NOT_FOUND']);
    assert.equal((await h.call('GET', '/v1/flash-sales/fs%zz')).body.code, 'BAD_REQUEST');
    assert.equal((await h.call('GET', '/v1/flash-sales/no-such')).body.code, 'VALIDATION_FAILED');
    assert.equal((await h.call('DELETE', `/v1/flash-sales/${saleId}`)).status, 405);
  });

  test('many concurrent requests of one user never exceed the per-user limit', async () => {
    const saleId = await createSale({ stock: 50, perUserLimit: 3 });
    const u = await h.user();
    const results = await Promise.all(Array.from({ length: 40 }, () => purchase(saleId, u.token)));
    const reserved = results.filter((r) => r.status === 200).length;
    assert.equal(reserved, 3);
    assert.ok(results.every((r) => r.status === 200 || r.body.code === 'LIMIT_REACHED' || r.status === 503));
  });
});

describe('across cells', () => {
  test('buyers skewed 90% into one cell still buy every unit; nothing is oversold; the ledger balances', async () => {
    const STOCK = 60;
    const saleId = await createSale({ stock: STOCK, perUserLimit: 1 });
    const router = h.edge.routing.router;
    const users: { token: string; cell: number }[] = [];
    const hot = router.cells[0]!;
    // 90 buyers in the hot cell, 10 elsewhere: demand (100) exceeds supply (60).
    while (
      users.filter((u) => u.cell === hot).length < 90 ||
      users.filter((u) => u.cell !== hot).length < 10
    ) {
      const u = await h.user();
      const cell = router.route(u.userId);
      const need =
        cell === hot
          ? users.filter((x) => x.cell === hot).length < 90
          : users.filter((x) => x.cell !== hot).length < 10;
      if (need) users.push({ token: u.token, cell });
    }
    const results = await Promise.all(users.map((u) => purchase(saleId, u.token)));
    const won = results.filter((r) => r.status === 200).length;
    assert.equal(won, STOCK, 'every unit sold');
    assert.ok(results.every((r) => r.status === 200 || r.body.code === 'SOLD_OUT'));
    const l = await ledger(saleId);
    assert.equal(l.reserved + l.sold, STOCK);
    assert.equal(l.quotas + l.pool, 0);
    assert.equal(l.balanced, true);
    const sale = await waitForSale(saleId, (s) => s.state === 'sold_out');
    assert.equal(sale.remaining, 0);
    // The operators' reconciliation command agrees.
    // (async: the edge under test runs in this process and must keep answering)
    const cli = await execFileAsync(
      process.execPath,
      [
        '--import',
        'tsx',
        'deploy/cli/titan.ts',
        '--edge',
        h.base,
        '--email',
        operatorEmail,
        '--password',
        'correct horse battery',
        '--json',
        'flash-sales',
        'reconcile',
        saleId,
      ],
      { cwd: new URL('../../', import.meta.url), encoding: 'utf8' },
    );
    assert.equal(JSON.parse(cli.stdout).balanced, true, cli.stderr);
  });
});

describe('expiry and live updates', () => {
  test('an expired reservation returns to stock; WebSocket subscribers see the updates and the sale sell out', async () => {
    const saleId = await createSale({ stock: 2, perUserLimit: 2, reservationTtlSeconds: 1 });
    const watcher = await h.user();
    const ws = new WebSocket(`${h.base.replace('http', 'ws')}/v1/ws?access_token=${watcher.token}`);
    const messages: any[] = [];
    ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
    await new Promise((r) => {
      ws.onopen = r;
    });
    ws.send(JSON.stringify({ op: 'subscribe', topic: `flash-sale:${saleId}` }));
    const u = await h.user();
    const r = await purchase(saleId, u.token, { qty: 2 });
    assert.equal(r.status, 200);
    await waitForSale(saleId, (s) => s.state === 'sold_out');
    // The sweeper releases it after its 1 s lifetime; stock comes back.
    const back = await waitForSale(saleId, (s) => s.remaining === 2);
    assert.equal(back.state, 'live');
    const status = await h.call('GET', `/v1/reservations/${r.body.reservationId}`, { token: u.token });
    assert.equal(status.body.status, 'expired');
    assert.ok(
      messages.some((m) => m.type === 'sale' && m.state === 'sold_out'),
      'saw sold_out',
    );
    assert.ok(
      messages.some((m) => m.type === 'sale' && m.state === 'live' && m.remaining === 2),
      'saw stock come back',
    );
    const l = await ledger(saleId);
    assert.equal(l.balanced, true);
    ws.close();
  });

  test('subscribers of a scheduled sale get a countdown', async () => {
    const now = Date.now();
    const saleId = await createSale({ startsAt: new Date(now + 60_000).toISOString() });
    const u = await h.user();
    const ws = new WebSocket(`${h.base.replace('http', 'ws')}/v1/ws?access_token=${u.token}`);
    const messages: any[] = [];
    ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
    await new Promise((r) => {
      ws.onopen = r;
    });
    ws.send(JSON.stringify({ op: 'subscribe', topic: `flash-sale:${saleId}` }));
    for (let i = 0; i < 40 && !messages.some((m) => m.type === 'countdown'); i++)
      await new Promise((r) => setTimeout(r, 100));
    const c = messages.find((m) => m.type === 'countdown');
    assert.ok(c, 'a countdown message arrived');
    assert.ok(c.startsInMs > 50_000 && c.startsInMs <= 60_000);
    ws.close();
  });
});
