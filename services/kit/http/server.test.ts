import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { defineErrors } from '../errors.ts';
import { Health } from '../health.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { HttpServer } from './server.ts';
import { loadUws } from './uws.ts';

const E = defineErrors({ SOLD_OUT: { status: 409, message: 'Sold out' } });
const health = new Health();
let dbUp = true;
health.addCheck('db', async () => {
  if (!dbUp) throw new Error('db down');
});
const server = new HttpServer({
  name: 'test',
  log: createLogger({ name: 'test', level: 'silent' }),
  metrics: createMetrics({ defaultMetrics: false }),
  health,
  maxBodyBytes: 1024,
});
server
  .route('GET', '/items/:id', (ctx) => ({
    body: { id: ctx.params.id, q: ctx.query.get('q'), rid: ctx.requestId },
  }))
  .route('POST', '/items', (ctx) => ({ status: 201, body: { got: ctx.json() } }))
  .route('POST', '/sold-out', () => {
    throw E.SOLD_OUT();
  })
  .route('POST', '/orders/:id', (ctx) => ({ body: { qty: ctx.body.qty * 2 } }), {
    params: Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) }),
    body: Type.Object({ qty: Type.Integer({ minimum: 1, maximum: 10 }) }, { additionalProperties: false }),
  })
  .route('GET', '/boom', () => {
    throw new Error('secret internal detail');
  });
let base = '';
before(async () => {
  base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
});
after(() => server.close());

test('the native uWebSockets.js binary is the one loaded', () => {
  assert.equal(loadUws().native, true);
});

test('routes receive path parameters and query, and every response carries a request id', async () => {
  const r = await fetch(`${base}/items/sku%2042?q=red`);
  assert.equal(r.status, 200);
  const body = (await r.json()) as { id: string; q: string; rid: string };
  assert.equal(body.id, 'sku 42');
  assert.equal(body.q, 'red');
  assert.equal(r.headers.get('x-request-id'), body.rid);
  const echoed = await fetch(`${base}/items/1`, { headers: { 'x-request-id': 'abc-123' } });
  assert.equal(echoed.headers.get('x-request-id'), 'abc-123');
});

test('JSON bodies are parsed; malformed JSON is a 400 with a code', async () => {
  const ok = await fetch(`${base}/items`, { method: 'POST', body: JSON.stringify({ a: 1 }) });
  assert.equal(ok.status, 201);
  assert.deepEqual(await ok.json(), { got: { a: 1 } });
  const bad = await fetch(`${base}/items`, { method: 'POST', body: '{"a":' });
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { code: 'MALFORMED_JSON', message: 'Request body is not valid JSON' });
});

test('typed errors keep their status and code; unknown errors are a 500 without internals', async () => {
  const sold = await fetch(`${base}/sold-out`, { method: 'POST' });
  assert.equal(sold.status, 409);
  assert.deepEqual(await sold.json(), { code: 'SOLD_OUT', message: 'Sold out' });
  const boom = await fetch(`${base}/boom`);
  assert.equal(boom.status, 500);
  const text = await boom.text();
  assert.ok(!text.includes('secret internal detail'));
  assert.equal(JSON.parse(text).code, 'INTERNAL');
});

test('unknown routes are 404 and wrong methods 405 with Allow', async () => {
  const nf = await fetch(`${base}/nope`);
  assert.equal(nf.status, 404);
  assert.equal(((await nf.json()) as { code: string }).code, 'NOT_FOUND');
  const na = await fetch(`${base}/items`, { method: 'GET' });
  assert.equal(na.status, 405);
  assert.equal(na.headers.get('allow'), 'POST');
  assert.equal(((await na.json()) as { code: string }).code, 'METHOD_NOT_ALLOWED');
});

test('bodies over the limit are refused with 413, declared or streamed', async () => {
  const big = 'x'.repeat(5000);
  const r = await fetch(`${base}/items`, { method: 'POST', body: big });
  assert.equal(r.status, 413);
  assert.equal(((await r.json()) as { code: string }).code, 'BODY_TOO_LARGE');
  // Chunked upload without content-length: the limit holds while streaming.
  const stream = new ReadableStream({
    start(c) {
      for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode('y'.repeat(500)));
      c.close();
    },
  });
  const chunked = await fetch(`${base}/items`, {
    method: 'POST',
    body: stream,
    duplex: 'half',
  } as RequestInit);
  assert.equal(chunked.status, 413);
});

test('a client that disconnects mid-body does not break the server', async () => {
  const { port } = new URL(base);
  await new Promise<void>((resolve) => {
    const s = connect(Number(port), '127.0.0.1', () => {
      s.write('POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":');
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 50);
    });
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(server.inFlight, 0);
  assert.equal((await fetch(`${base}/items/1`)).status, 200);
});

test('/health, /ready and /metrics answer', async () => {
  assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: 'ok' });
  dbUp = true;
  assert.equal((await fetch(`${base}/ready`)).status, 200);
  dbUp = false;
  const notReady = await fetch(`${base}/ready`);
  assert.equal(notReady.status, 503);
  assert.equal(((await notReady.json()) as { checks: { db: { error: string } } }).checks.db.error, 'db down');
  dbUp = true;
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /titan_http_requests_total\{route="\/items\/:id",method="GET",status="200"\} \d+/);
  assert.match(metrics, /titan_http_request_duration_seconds_bucket/);
});

test('declared schemas validate params and body; a failure is a 400 naming the field', async () => {
  const ok = await fetch(`${base}/orders/7`, { method: 'POST', body: JSON.stringify({ qty: 3 }) });
  assert.deepEqual(await ok.json(), { qty: 6 });
  const cases: [string, string, string][] = [
    ['/orders/7', '{"qty":0}', 'body/qty'],
    ['/orders/7', '{"qty":1.5}', 'body/qty'],
    ['/orders/7', '{"qty":"2"}', 'body/qty'],
    ['/orders/7', '{"qty":1,"extra":true}', 'body/extra'],
    ['/orders/7', '[]', 'body'],
    ['/orders/x', '{"qty":1}', 'params/id'],
  ];
  for (const [path, body, field] of cases) {
    const r = await fetch(`${base}${path}`, { method: 'POST', body });
    assert.equal(r.status, 400, `${path} ${body}`);
    const err = (await r.json()) as { code: string; message: string };
    assert.equal(err.code, 'VALIDATION_FAILED');
    assert.ok(err.message.startsWith(field), `${err.message} should name ${field}`);
  }
});
