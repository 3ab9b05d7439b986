// The edge with real HTTP and WebSocket clients in front of real auth and user services.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'undici';
import { moveSlots } from '../../cells/index.ts';
import { type EdgeHarness, startEdge, testMap } from './edge-harness.ts';

let h: EdgeHarness;
before(async () => {
  // Two shards: shard 1 is a Redis that does not exist, so its cells are unavailable.
  h = await startEdge({
    map: testMap(4, [1], 2),
    env: { TITAN_EDGE_USER_RATE: '5', TITAN_EDGE_USER_BURST: '10' },
  });
});
after(() => h.stop());

describe('HTTP basics', () => {
  test('unknown routes are 404, wrong methods 405, every response carries a request id', async () => {
    const nf = await h.call('GET', '/v1/nope');
    assert.equal(nf.status, 404);
    assert.equal(nf.body.code, 'NOT_FOUND');
    assert.ok(nf.headers.get('x-request-id'));
    const na = await h.call('DELETE', '/v1/session');
    assert.equal(na.status, 405);
    assert.equal(na.body.code, 'METHOD_NOT_ALLOWED');
  });

  test('malformed JSON and oversized bodies through the edge are 4xx with a code', async () => {
    const bad = await h.call('POST', '/v1/auth/login', { raw: '{"email":' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'MALFORMED_JSON');
    const big = await h.call('POST', '/v1/auth/login', {
      raw: JSON.stringify({ email: 'x'.repeat(10_000) }),
    });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'BODY_TOO_LARGE');
  });

  test('a slow-drip body gets 408 instead of holding the connection', async () => {
    const { port } = new URL(h.base);
    const reply = await new Promise<string>((resolve) => {
      let data = '';
      const s = connect(Number(port), '127.0.0.1', () => {
        s.write('POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"e');
      });
      s.on('data', (d) => {
        data += d;
      });
      s.on('close', () => resolve(data));
      setTimeout(() => s.destroy(), 5000);
    });
    assert.match(reply, /^HTTP\/1\.1 408/);
    assert.match(reply, /REQUEST_TIMEOUT/);
  });

  test('the OpenAPI 3.1 document lists edge and proxied service routes with their schemas', async () => {
    const r = await h.call('GET', '/v1/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    assert.ok(r.body.paths['/v1/session'].get);
    const login = r.body.paths['/v1/auth/login'].post;
    assert.deepEqual(login.requestBody.content['application/json'].schema.required, ['email', 'password']);
    assert.ok(
      r.body.paths['/v1/users/{id}/roles'].put.parameters.some((p: { name: string }) => p.name === 'id'),
    );
    assert.deepEqual(r.body.paths['/v1/users/me'].get.security, [{ bearer: [] }]);
  });
});

describe('authentication and cells', () => {
  test('a valid token reaches the route with the caller cell; none or garbage is a 401', async () => {
    const router = h.edge.routing.router;
    // A user on the live shard (shard s1 of this map is deliberately dead; its users get 503).
    let u = await h.user();
    for (let i = 0; i < 20 && router.shardOfCell(router.route(u.userId)).id !== 's0'; i++) u = await h.user();
    assert.equal(router.shardOfCell(router.route(u.userId)).id, 's0');
    const r = await h.call('GET', '/v1/session', { token: u.token });
    assert.equal(r.status, 200);
    assert.equal(r.body.userId, u.userId);
    assert.equal(r.body.cell, router.route(u.userId));
    assert.equal(r.body.mapVersion, router.version);
    assert.equal((await h.call('GET', '/v1/session')).status, 401);
    const garbage = await h.call('GET', '/v1/session', { token: 'a.b.c' });
    assert.equal(garbage.status, 401);
    assert.equal(garbage.body.code, 'UNAUTHENTICATED');
  });

  test('a cell whose shard is down answers 503 CELL_UNAVAILABLE for its users only', async () => {
    await h.edge.shards.pingAll(h.edge.routing.router);
    const router = h.edge.routing.router;
    const byShard = { up: 0, down: 0 };
    for (let i = 0; i < 12 && (byShard.up === 0 || byShard.down === 0); i++) {
      const u = await h.user();
      const cell = router.route(u.userId);
      const onDeadShard = router.shardOfCell(cell).id === 's1';
      const r = await h.call('GET', '/v1/session', { token: u.token });
      if (onDeadShard) {
        byShard.down++;
        assert.equal(r.status, 503);
        assert.equal(r.body.code, 'CELL_UNAVAILABLE');
        assert.ok(r.headers.get('retry-after'));
      } else {
        byShard.up++;
        assert.equal(r.status, 200);
      }
    }
    assert.ok(byShard.up > 0 && byShard.down > 0, `need users on both shards: ${JSON.stringify(byShard)}`);
  });

  test('a new cell map version is picked up without restart and moves users', async () => {
    const u = await h.user();
    const router = h.edge.routing.router;
    const slot = router.slotOf(u.userId);
    const from = router.route(u.userId);
    const target = router.cells.find((c) => c !== from && router.shardOfCell(c).id === 's0')!;
    const next = moveSlots(h.edge.routing.map, [slot], target);
    h.writeMap(next);
    assert.equal(h.edge.routing.reload(), true);
    const r = await h.call('GET', '/v1/session', { token: u.token });
    assert.equal(r.status, 200);
    assert.equal(r.body.cell, target);
    assert.equal(r.body.mapVersion, next.version);
    // An invalid map is refused and the current one keeps serving.
    h.writeMap({ ...next, version: next.version + 1, slots: [] });
    assert.equal(h.edge.routing.reload(), false);
    assert.equal(h.edge.routing.router.version, next.version);
  });

  test('the per-user rate limit answers 429 with Retry-After', async () => {
    const u = await h.user();
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++)
      statuses.push((await h.call('GET', '/v1/users/me', { token: u.token })).status);
    // /v1/users/me is proxied (public at the edge): exercise the per-user limit on an edge route.
    const limited: { status: number; headers: Headers; body: any }[] = [];
    for (let i = 0; i < 20; i++) limited.push(await h.call('GET', '/v1/session', { token: u.token }));
    const refused = limited.filter((r) => r.status === 429);
    assert.ok(refused.length > 0, 'burst of 20 over a burst limit of 10 must be refused in part');
    assert.equal(refused[0]!.body.code, 'RATE_LIMITED');
    assert.ok(Number(refused[0]!.headers.get('retry-after')) >= 1);
    assert.ok(statuses.every((s) => s === 200));
  });
});

describe('proxy', () => {
  test('requests to a service are forwarded with the request id; the answer comes back as is', async () => {
    const u = await h.user();
    const r = await h.call('GET', '/v1/users/me', {
      token: u.token,
      headers: { 'x-request-id': 'trace-me-1' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.id, u.userId);
    assert.equal(r.headers.get('x-request-id'), 'trace-me-1');
  });

  test('a service that is down is a 503 with a code and Retry-After, and the edge keeps serving', async () => {
    const down = await startEdge({ env: { TITAN_USER_URL: 'http://127.0.0.1:1' } });
    try {
      const u = await down.user();
      const r = await down.call('GET', '/v1/users/me', { token: u.token });
      assert.equal(r.status, 503);
      assert.equal(r.body.code, 'UPSTREAM_UNAVAILABLE');
      assert.ok(r.headers.get('retry-after'));
      assert.equal((await down.call('GET', '/health')).status, 200);
    } finally {
      await down.stop();
    }
  });

  test('a client that disconnects mid-request leaves nothing behind', async () => {
    const { port } = new URL(h.base);
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const s = connect(Number(port), '127.0.0.1', () => {
          s.write(
            'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n{"email":"a@b.co","password":"correct horse battery"}',
          );
          setTimeout(() => {
            s.destroy();
            resolve();
          }, 5);
        });
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(h.edge.server.inFlight, 0);
    assert.equal((await h.call('GET', '/health')).status, 200);
  });
});

describe('WebSocket', () => {
  const open = (url: string, headers?: Record<string, string>) =>
    new Promise<{ ws: WebSocket; messages: any[] }>((resolve, reject) => {
      const ws = new WebSocket(url, headers ? ({ headers } as never) : undefined);
      const messages: any[] = [];
      ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
      ws.onopen = () => resolve({ ws, messages });
      ws.onerror = (e) => reject(e);
    });
  const until = async (check: () => boolean, what: string) => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(check(), what);
  };

  test('auth by first message, subscribe, receive publications; bad ops and topics get errors, not disconnects', async () => {
    const u = await h.user();
    const { ws, messages } = await open(`${h.base.replace('http', 'ws')}/v1/ws`);
    ws.send(JSON.stringify({ op: 'subscribe', topic: 'flash-sale:s1', id: 1 }));
    await until(() => messages.length >= 1, 'reply to unauthenticated subscribe');
    assert.equal(messages[0].code, 'UNAUTHENTICATED');
    ws.send(JSON.stringify({ op: 'auth', token: u.token, id: 2 }));
    await until(() => messages.some((m) => m.type === 'ack' && m.op === 'auth'), 'auth ack');
    ws.send(JSON.stringify({ op: 'subscribe', topic: 'flash-sale:s1', id: 3 }));
    ws.send(JSON.stringify({ op: 'dance' }));
    ws.send(JSON.stringify({ op: 'subscribe', topic: '../etc/passwd' }));
    ws.send('not json');
    await until(() => messages.length >= 6, 'four more replies');
    assert.deepEqual(
      messages.slice(2).map((m) => m.code ?? m.op),
      ['subscribe', 'UNKNOWN_OP', 'BAD_TOPIC', 'MALFORMED_MESSAGE'],
    );
    assert.equal(h.edge.ws.subscribers('flash-sale:s1'), 1);
    h.edge.ws.publish('flash-sale:s1', JSON.stringify({ type: 'stock', remaining: 7 }));
    await until(() => messages.some((m) => m.type === 'stock'), 'publication');
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
  });

  test('a token in the upgrade request authenticates; a bad one is refused with 401', async () => {
    const u = await h.user();
    const { ws, messages } = await open(`${h.base.replace('http', 'ws')}/v1/ws?access_token=${u.token}`);
    ws.send(JSON.stringify({ op: 'subscribe', topic: 'flash-sale:s2' }));
    await until(() => messages.length >= 1, 'subscribe ack');
    assert.equal(messages[0].type, 'ack');
    ws.close();
    await assert.rejects(open(`${h.base.replace('http', 'ws')}/v1/ws?access_token=a.b.c`));
  });

  test('a flood of messages is rate limited per connection', async () => {
    const u = await h.user();
    const { ws, messages } = await open(`${h.base.replace('http', 'ws')}/v1/ws?access_token=${u.token}`);
    for (let i = 0; i < 60; i++) ws.send(JSON.stringify({ op: 'ping' }));
    await until(() => messages.length >= 60, 'a reply per message');
    assert.ok(messages.some((m) => m.code === 'RATE_LIMITED'));
    assert.ok(messages.filter((m) => m.type === 'pong').length >= 20);
    ws.close();
  });

  test('a subscriber that stops reading is cut off instead of growing the edge memory', async () => {
    const u = await h.user();
    const { port } = new URL(h.base);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `GET /v1/ws?access_token=${u.token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((r) => socket.once('data', r));
    // subscribe (a masked client frame), then never read again
    const payload = Buffer.from(JSON.stringify({ op: 'subscribe', topic: 'flash-sale:slow' }));
    const mask = Buffer.from([1, 2, 3, 4]);
    const frame = Buffer.concat([
      Buffer.from([0x81, 0x80 | payload.length]),
      mask,
      payload.map((b, i) => b ^ mask[i % 4]!),
    ]);
    socket.write(frame);
    await until(() => h.edge.ws.subscribers('flash-sale:slow') === 1, 'slow subscriber registered');
    socket.pause();
    const before = h.edge.ws.connections;
    const chunk = 'x'.repeat(60_000);
    for (let i = 0; i < 800 && h.edge.ws.subscribers('flash-sale:slow') > 0; i++) {
      h.edge.ws.publish('flash-sale:slow', chunk);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => h.edge.ws.connections < before, 'the slow subscriber was closed');
    socket.destroy();
  });
});

describe('shutdown', () => {
  test('close drains an in-flight request, refuses new ones and closes WebSockets', async () => {
    const own = await startEdge();
    try {
      const u = await own.user();
      const { port } = new URL(own.base);
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws?access_token=${u.token}`);
      await new Promise((r) => {
        ws.onopen = r;
      });
      const closed = new Promise<number>((r) => {
        ws.onclose = (e) => r(e.code);
      });
      // A login (a few ms of scrypt behind the proxy) is in flight when the edge starts closing.
      const inflight = own.call('POST', '/v1/auth/login', {
        body: { email: u.email, password: 'correct horse battery' },
      });
      while (own.edge.server.inFlight === 0) await new Promise((r) => setImmediate(r));
      const closing = own.edge.close();
      assert.equal((await inflight).status, 200);
      await closing;
      assert.equal(await closed, 1001);
      // New connections are refused (kept-alive ones would be answered 503 SHUTTING_DOWN and closed).
      const refused = await new Promise<string>((resolve) => {
        const sock = connect(Number(port), '127.0.0.1');
        sock.once('connect', () => {
          sock.destroy();
          resolve('connected');
        });
        sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
      assert.equal(refused, 'ECONNREFUSED');
    } finally {
      await own.identity.stop();
    }
  });
});
