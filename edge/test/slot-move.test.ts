// A live slot move: a user's slot moves to a cell on another shard while traffic runs. The user is
// served by the old cell, then by nobody for a moment (503 SLOT_MOVING, retry), then by the new cell,
// never by both; their purchase answers and per-user count move with them; nobody else notices.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { saleCellKeys } from '../../lua/keys.ts';
import { stackSetting } from '../../services/kit/testing.ts';
import { type EdgeHarness, startEdge, testMap } from './edge-harness.ts';

let h: EdgeHarness;
let operator = '';
before(async () => {
  h = await startEdge({
    map: testMap(4, [], 2),
    flashSale: true,
    env: { TITAN_SLOT_MOVE_DRAIN_MS: '400', TITAN_EDGE_USER_RATE: '1000', TITAN_EDGE_USER_BURST: '1000' },
  });
  const op = await h.user();
  await h.identity.db.pool.query("UPDATE users SET roles = ARRAY['buyer','operator'] WHERE id = $1", [
    op.userId,
  ]);
  operator = (
    await h.call('POST', '/v1/auth/login', { body: { email: op.email, password: 'correct horse battery' } })
  ).body.accessToken;
});
after(() => h.stop());

async function buy(saleId: string, token: string, key: string) {
  for (;;) {
    const r = await h.call('POST', `/v1/flash-sales/${saleId}/purchase`, {
      token,
      body: { qty: 1 },
      headers: { 'idempotency-key': key },
    });
    if (r.status !== 503) return r;
    await new Promise((res) => setTimeout(res, 20));
  }
}

test('a slot moves to a cell on another shard under traffic: served by one owner at a time, data follows, others unaffected', async () => {
  const now = Date.now();
  const created = await h.call('POST', '/v1/admin/flash-sales', {
    token: operator,
    headers: { 'idempotency-key': `move-${now}` },
    body: {
      sku: 'FLASH-MOVE-1',
      title: 'Move test',
      priceMinor: 1000,
      currency: 'EUR',
      stock: 1000,
      perUserLimit: 2,
      startsAt: new Date(now - 1000).toISOString(),
      endsAt: new Date(now + 3600_000).toISOString(),
    },
  });
  assert.equal(created.status, 201);
  const saleId = created.body.saleId as string;
  for (let i = 0; i < 100 && (await h.call('GET', `/v1/flash-sales/${saleId}`)).status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const router = h.edge.routing.router;
  const mover = await h.user();
  const from = router.route(mover.userId);
  const to = router.cells.find((c) => router.shardOfCell(c).id !== router.shardOfCell(from).id)!;
  const slot = router.slotOf(mover.userId);
  const others = await Promise.all(Array.from({ length: 6 }, () => h.user()));
  const bystanders = others.filter((u) => router.slotOf(u.userId) !== slot);

  const first = await buy(saleId, mover.token, 'first');
  assert.equal(first.status, 200);
  assert.match(first.body.reservationId, new RegExp(`^${saleId}-${from}-`));

  // Traffic while the slot moves: the mover polls its session; bystanders poll and buy.
  let moving = true;
  const seen: (number | 'moving')[] = [];
  const bystanderErrors: string[] = [];
  const poll = (async () => {
    while (moving) {
      const r = await h.call('GET', '/v1/session', { token: mover.token });
      if (r.status === 200) seen.push(r.body.cell);
      else if (r.body?.code === 'SLOT_MOVING') seen.push('moving');
      else throw new Error(`unexpected ${r.status} ${JSON.stringify(r.body)}`);
      await new Promise((res) => setTimeout(res, 10));
    }
  })();
  const traffic = (async () => {
    let n = 0;
    while (moving) {
      for (const u of bystanders) {
        const r = await h.call('GET', '/v1/session', { token: u.token });
        if (r.status !== 200) bystanderErrors.push(`${r.status} ${r.body?.code}`);
      }
      const u = bystanders[n++ % bystanders.length]!;
      const p = await buy(saleId, u.token, `b-${u.userId}-${n}`);
      if (p.status !== 200 && p.body.code !== 'LIMIT_REACHED')
        bystanderErrors.push(`purchase ${p.status} ${p.body.code}`);
    }
  })();
  await new Promise((r) => setTimeout(r, 150));
  const move = await h.call('POST', `/v1/admin/cells/${to}/slots`, {
    token: operator,
    body: { from: slot, to: slot },
  });
  await new Promise((r) => setTimeout(r, 150));
  moving = false;
  await Promise.all([poll, traffic]);

  assert.equal(move.status, 200, JSON.stringify(move.body));
  assert.deepEqual(move.body.moved.fromCells, [from]);
  assert.ok(move.body.moved.users >= 1);
  // One owner at a time: the old cell, then nobody, then the new cell; never back.
  const order = seen.filter((v, i) => i === 0 || v !== seen[i - 1]);
  assert.deepEqual(order, [from, 'moving', to], `observed ${JSON.stringify(order)}`);
  assert.deepEqual(bystanderErrors, [], 'other users never noticed');
  assert.equal(h.edge.routing.router.route(mover.userId), to);
  assert.equal(h.edge.routing.router.isMigrating(slot), false);

  // The mover's answers and count followed: the replay names the reservation where it lives; one
  // more unit is allowed (limit 2), a third is not.
  const replay = await buy(saleId, mover.token, 'first');
  assert.deepEqual(replay.body, first.body);
  assert.equal(
    (await h.call('GET', `/v1/reservations/${first.body.reservationId}`, { token: mover.token })).body.status,
    'reserved',
  );
  const second = await buy(saleId, mover.token, 'second');
  assert.equal(second.status, 200);
  assert.match(second.body.reservationId, new RegExp(`^${saleId}-${to}-`));
  assert.equal((await buy(saleId, mover.token, 'third')).body.code, 'LIMIT_REACHED');

  // The old copy is gone; the ledger balances.
  const redis = new Redis(stackSetting('TITAN_REDIS_URL'));
  try {
    const left = await redis.hkeys(saleCellKeys(String(from), saleId).users);
    assert.ok(!left.some((f) => f.startsWith(mover.userId)), 'no copy of the mover left in the old cell');
  } finally {
    redis.disconnect();
  }
  const ledger = await h.call('GET', `/v1/admin/flash-sales/${saleId}/ledger`, { token: operator });
  assert.equal(ledger.body.balanced, true);
});

test('a bad move is refused and changes nothing', async () => {
  const version = h.edge.routing.router.version;
  const r = await h.call('POST', '/v1/admin/cells/999/slots', { token: operator, body: { from: 0, to: 10 } });
  assert.ok(r.status === 404 || r.status === 409 || r.status === 400, `${r.status}`);
  const reversed = await h.call('POST', '/v1/admin/cells/0/slots', {
    token: operator,
    body: { from: 10, to: 5 },
  });
  assert.ok(reversed.status >= 400 && reversed.status < 500);
  assert.equal(h.edge.routing.router.version, version);
  assert.equal(h.edge.routing.map.migrating?.length ?? 0, 0);
});
