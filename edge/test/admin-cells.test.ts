// The cell admin API on a real edge in front of real auth and user services: every change lands in
// the map file as a new version and is served at once; refused changes leave the file untouched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type CellMap, loadCellMap, SLOT_COUNT, serializeCellMap } from '../../cells/index.ts';
import { createLogger, type Handler } from '../../services/kit/index.ts';
import { registerCellAdminRoutes } from '../admin-cells.ts';
import type { EdgeRoute } from '../app.ts';
import { CellRouting } from '../cell-routing.ts';
import { type EdgeHarness, startEdge, testMap } from './edge-harness.ts';

const log = createLogger({ name: 'admin-cells-test', level: 'silent' });
let h: EdgeHarness;
let op: string;

/** A fresh user given the operator role in the users table, logged in again so the token carries it. */
async function operatorToken(harness: EdgeHarness): Promise<string> {
  const password = 'operator password 1';
  const email = harness.identity.email();
  const reg = await harness.call('POST', '/v1/auth/register', { body: { email, password } });
  assert.equal(reg.status, 201);
  await harness.identity.db.pool.query("UPDATE users SET roles = ARRAY['buyer','operator'] WHERE id = $1", [
    reg.body.userId,
  ]);
  const login = await harness.call('POST', '/v1/auth/login', { body: { email, password } });
  assert.equal(login.status, 200);
  return login.body.accessToken;
}

/** Starts each test from a fresh 4-cell map whose version is above the served one (so it is taken). */
function resetMap(): CellMap {
  const map = { ...testMap(4), version: h.edge.routing.router.version + 1 };
  h.writeMap(map);
  assert.equal(h.edge.routing.reload(), true);
  return map;
}

const onDisk = () => loadCellMap(h.mapFile, { env: false });
const admin = (
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
) => h.call(method, path, { ...opts, token: op });

before(async () => {
  h = await startEdge({
    map: testMap(4),
    env: { TITAN_EDGE_USER_RATE: '10000', TITAN_EDGE_USER_BURST: '10000' },
  });
  op = await operatorToken(h);
});
after(() => h?.stop());
beforeEach(() => {
  resetMap();
});

describe('access', () => {
  test('only operators reach the admin API: no token is a 401, a buyer a 403', async () => {
    const none = await h.call('GET', '/v1/admin/cells');
    assert.equal(none.status, 401);
    const buyer = await h.user();
    for (const [method, path] of [
      ['GET', '/v1/admin/cells'],
      ['GET', '/v1/admin/cells/0'],
      ['PATCH', '/v1/admin/cells/0/pools/flashSale'],
      ['POST', '/v1/admin/cells'],
      ['POST', '/v1/admin/cells/0/drain'],
      ['POST', '/v1/admin/cells/0/failover'],
    ] as const) {
      const body =
        method === 'GET' ? undefined : path === '/v1/admin/cells' ? { count: 1 } : { maxThreads: 8 };
      const r = await h.call(method, path, { token: buyer.token, body });
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(r.body.code, 'FORBIDDEN');
    }
    assert.equal(onDisk().cells[0]!.status, 'active');
  });

  test('the OpenAPI document describes the admin routes with their schemas', async () => {
    const r = await h.call('GET', '/v1/openapi.json');
    const tuneOp = r.body.paths['/v1/admin/cells/{id}/pools/{pool}'].patch;
    assert.ok(tuneOp.requestBody.content['application/json'].schema.properties.maxThreads);
    assert.deepEqual(tuneOp.security, [{ bearer: [] }]);
    assert.ok(r.body.paths['/v1/admin/cells'].get.responses['200']);
    assert.ok(r.body.paths['/v1/admin/cells'].post.requestBody);
    assert.ok(r.body.paths['/v1/admin/cells/{id}/failover'].post);
  });
});

describe('reading', () => {
  test('the list shows every cell with status, backup, shard, slot share and pools', async () => {
    const map = resetMap();
    const r = await admin('GET', '/v1/admin/cells');
    assert.equal(r.status, 200);
    assert.equal(r.body.version, map.version);
    assert.equal(r.headers.get('etag'), `"${map.version}"`);
    assert.equal(r.body.cells.length, 4);
    let total = 0;
    for (const [i, c] of r.body.cells.entries()) {
      const m = map.cells[i]!;
      assert.deepEqual(
        [c.id, c.status, c.backup, c.shard, c.servedBy, c.pools],
        [m.id, m.status, m.backup, m.shard, m.id, m.pools],
      );
      assert.equal(c.slots.count, SLOT_COUNT / 4);
      assert.equal(c.slots.fraction, 0.25);
      total += c.slots.count;
    }
    assert.equal(total, SLOT_COUNT);
  });

  test('one cell by id; an unknown cell is a 404 CELL_UNKNOWN, a malformed id a 400', async () => {
    const one = await admin('GET', '/v1/admin/cells/2');
    assert.equal(one.status, 200);
    assert.equal(one.body.cell.id, 2);
    assert.equal(one.body.cell.slots.count, 4096);
    // With the engine wired in, only this cell's pools (none until a request used them).
    const stats: { cell: number }[] = one.body.stats ?? [];
    assert.ok(stats.every((s) => s.cell === 2));
    const unknown = await admin('GET', '/v1/admin/cells/99');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'CELL_UNKNOWN');
    const bad = await admin('GET', '/v1/admin/cells/abc');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
  });

  test('a cell shows the live stats of its own pools when the engine runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'titan-admin-'));
    try {
      const file = join(dir, 'cells.json');
      writeFileSync(file, serializeCellMap(testMap(4)));
      const handlers = new Map<string, Handler>();
      const capture: EdgeRoute = (method, pattern, _access, handler) => {
        handlers.set(`${method} ${pattern}`, (ctx) => handler(ctx as never, undefined));
      };
      const stats = [
        { cell: 1, pool: 'flashSale', queueDepth: 3 },
        { cell: 2, pool: 'flashSale', queueDepth: 0 },
      ];
      registerCellAdminRoutes(capture, {
        routing: new CellRouting(file, log),
        log,
        engineStats: () => stats,
      });
      const reply = await handlers.get('GET /v1/admin/cells/:id')!({ params: { id: '1' } } as never);
      assert.deepEqual((reply.body as { stats: unknown[] }).stats, [stats[0]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tuning a pool', () => {
  test('a valid patch becomes the next version on disk and is served at once', async () => {
    const map = resetMap();
    const r = await admin('PATCH', '/v1/admin/cells/1/pools/flashSale', {
      body: { maxThreads: 12, batchMaxSize: 128 },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.version, map.version + 1);
    assert.equal(r.headers.get('etag'), `"${map.version + 1}"`);
    assert.equal(r.body.cell.pools.flashSale.maxThreads, 12);
    const disk = onDisk();
    assert.equal(disk.version, map.version + 1);
    assert.equal(disk.cells[1]!.pools.flashSale.maxThreads, 12);
    assert.equal(disk.cells[1]!.pools.flashSale.batchMaxSize, 128);
    assert.deepEqual(disk.cells[0]!.pools, map.cells[0]!.pools, 'other cells untouched');
    // Placeholders and the canonical form survive the rewrite.
    assert.equal(readFileSync(h.mapFile, 'utf8'), serializeCellMap(disk));
    assert.equal(h.edge.routing.router.version, map.version + 1);
    assert.equal(h.edge.routing.router.pools(1).flashSale.maxThreads, 12);
  });

  test('invalid settings are a 400 naming the field, and the file stays as it was', async () => {
    resetMap();
    const before = readFileSync(h.mapFile, 'utf8');
    const cases: [string, unknown, string, RegExp?][] = [
      [
        '/v1/admin/cells/1/pools/flashSale',
        { minThreads: 9, maxThreads: 8 },
        'CELL_CHANGE_INVALID',
        /minThreads/,
      ],
      [
        '/v1/admin/cells/1/pools/flashSale',
        { reviewThreshold: 0.5 },
        'CELL_CHANGE_INVALID',
        /reviewThreshold/,
      ],
      ['/v1/admin/cells/1/pools/fraud', { reviewThreshold: 0.95 }, 'CELL_CHANGE_INVALID', /reviewThreshold/],
      ['/v1/admin/cells/1/pools/flashSale', { maxThreads: 0 }, 'VALIDATION_FAILED', /maxThreads/],
      ['/v1/admin/cells/1/pools/flashSale', { maxThread: 4 }, 'VALIDATION_FAILED'],
      ['/v1/admin/cells/1/pools/flashSale', {}, 'VALIDATION_FAILED'],
      ['/v1/admin/cells/1/pools/swimming', { maxThreads: 4 }, 'VALIDATION_FAILED', /pool/],
    ];
    for (const [path, body, code, message] of cases) {
      const r = await admin('PATCH', path, { body });
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, code);
      if (message) assert.match(r.body.message, message);
    }
    const unknown = await admin('PATCH', '/v1/admin/cells/42/pools/flashSale', { body: { maxThreads: 4 } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'CELL_UNKNOWN');
    assert.equal(readFileSync(h.mapFile, 'utf8'), before);
  });

  test('If-Match makes a change conditional: a stale version is a 409 CELL_MAP_CONFLICT', async () => {
    const map = resetMap();
    const stale = await admin('PATCH', '/v1/admin/cells/0/pools/inventory', {
      body: { maxQueue: 10 },
      headers: { 'if-match': `"${map.version - 1}"` },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.code, 'CELL_MAP_CONFLICT');
    assert.equal(onDisk().version, map.version);
    const fresh = await admin('PATCH', '/v1/admin/cells/0/pools/inventory', {
      body: { maxQueue: 10 },
      headers: { 'if-match': `"${map.version}"` },
    });
    assert.equal(fresh.status, 200);
    assert.equal(onDisk().cells[0]!.pools.inventory.maxQueue, 10);
  });

  test('concurrent tunes are serialised: every one lands in its own version, none is lost', async () => {
    const map = resetMap();
    const n = 24;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, k) =>
        admin('PATCH', `/v1/admin/cells/${k % 4}/pools/${k % 8 < 4 ? 'flashSale' : 'inventory'}`, {
          body: { maxQueue: 1000 + k },
        }),
      ),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(n).fill(200),
    );
    assert.deepEqual(
      replies.map((r) => r.body.version).sort((a, b) => a - b),
      Array.from({ length: n }, (_, k) => map.version + 1 + k),
    );
    const disk = onDisk();
    assert.equal(disk.version, map.version + n);
    // The last writer of each (cell, pool) is the highest k with that pair.
    for (let k = n - 8; k < n; k++) {
      const pool = k % 8 < 4 ? 'flashSale' : 'inventory';
      assert.equal(disk.cells[k % 4]!.pools[pool].maxQueue, 1000 + k, `cell ${k % 4} ${pool}`);
    }
  });

  test('another process holding the map lock delays the change; a dead holder is ignored', async () => {
    const map = resetMap();
    const lock = `${h.mapFile}.lock`;
    writeFileSync(lock, `${process.pid}\n`); // a live holder
    const pending = admin('PATCH', '/v1/admin/cells/3/pools/fraud', { body: { denyThreshold: 0.95 } });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(onDisk().version, map.version, 'waits for the lock');
    rmSync(lock);
    assert.equal((await pending).status, 200);
    assert.equal(onDisk().version, map.version + 1);

    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout;
    writeFileSync(lock, `${dead}\n`);
    const r = await admin('PATCH', '/v1/admin/cells/3/pools/fraud', { body: { denyThreshold: 0.96 } });
    assert.equal(r.status, 200);
    assert.equal(onDisk().cells[3]!.pools.fraud.denyThreshold, 0.96);
  });
});

describe('adding cells', () => {
  test('new cells get the ideal share, moved only to them, and are written as the next version', async () => {
    const map = resetMap();
    const r = await admin('POST', '/v1/admin/cells', { body: { count: 2 } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.version, map.version + 1);
    assert.deepEqual(
      r.body.cells.map((c: { id: number }) => c.id),
      [4, 5],
    );
    const m = r.body.moved;
    assert.equal(m.idealFraction, 2 / 6);
    assert.ok(m.fraction <= m.idealFraction && m.fraction > m.idealFraction * 0.99, `${m.fraction}`);
    for (const p of m.perCell) {
      assert.equal(p.slots, Math.floor(SLOT_COUNT / 6));
      assert.equal(p.idealFraction, 1 / 6);
      assert.equal(r.body.cells.find((c: { id: number }) => c.id === p.cell).slots.count, p.slots);
    }
    assert.ok(m.moves.every((mv: { toCell: number }) => mv.toCell >= 4));
    assert.equal(
      m.moves.reduce((a: number, mv: { from: number; to: number }) => a + mv.to - mv.from + 1, 0),
      m.slots,
    );
    const disk = onDisk();
    assert.equal(disk.version, map.version + 1);
    assert.equal(disk.cells.length, 6);
    assert.equal(h.edge.routing.router.cells.length, 6);
  });

  test('an unknown shard is a 409, a count below 1 a 400, and the file stays as it was', async () => {
    resetMap();
    const before = readFileSync(h.mapFile, 'utf8');
    const shard = await admin('POST', '/v1/admin/cells', { body: { count: 1, shard: 'nowhere' } });
    assert.equal(shard.status, 409);
    assert.equal(shard.body.code, 'CELL_OPERATION_REJECTED');
    const zero = await admin('POST', '/v1/admin/cells', { body: { count: 0 } });
    assert.equal(zero.status, 400);
    assert.equal(zero.body.code, 'VALIDATION_FAILED');
    assert.equal(readFileSync(h.mapFile, 'utf8'), before);
  });
});

describe('drain and failover', () => {
  test('draining marks the cell draining; draining it again or an unknown cell is refused', async () => {
    const map = resetMap();
    const r = await admin('POST', '/v1/admin/cells/2/drain');
    assert.equal(r.status, 200);
    assert.equal(r.body.cell.status, 'draining');
    assert.equal(r.body.cell.servedBy, 2, 'a draining cell keeps serving');
    assert.equal(onDisk().cells[2]!.status, 'draining');
    assert.equal(onDisk().version, map.version + 1);
    const again = await admin('POST', '/v1/admin/cells/2/drain');
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'CELL_OPERATION_REJECTED');
    const unknown = await admin('POST', '/v1/admin/cells/77/drain');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'CELL_UNKNOWN');
    assert.equal(onDisk().version, map.version + 1);
  });

  test("failover moves only the failed cell's users to its backup (seen in /v1/session)", async () => {
    resetMap();
    const users = await Promise.all(Array.from({ length: 10 }, () => h.user()));
    const cellOf = new Map<string, number>();
    for (const u of users) {
      const s = await h.call('GET', '/v1/session', { token: u.token });
      assert.equal(s.status, 200);
      cellOf.set(u.userId, s.body.cell);
    }
    const victim = cellOf.get(users[0]!.userId)!;
    const backup = onDisk().cells.find((c) => c.id === victim)!.backup;
    const r = await admin('POST', `/v1/admin/cells/${victim}/failover`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.cell.status, 'down');
    assert.deepEqual(r.body.rerouted, {
      slots: SLOT_COUNT / 4,
      fraction: 0.25,
      to: backup,
      otherCellsAffected: 0,
    });
    assert.equal(onDisk().cells.find((c) => c.id === victim)!.status, 'down');
    for (const u of users) {
      const s = await h.call('GET', '/v1/session', { token: u.token });
      assert.equal(s.status, 200);
      assert.equal(s.body.mapVersion, r.body.version);
      const was = cellOf.get(u.userId)!;
      assert.equal(s.body.cell, was === victim ? backup : was, `user of cell ${was}`);
    }
  });

  test('failing over a down cell, or the last cell standing, is a 409 and changes nothing', async () => {
    const map = resetMap();
    for (const id of [0, 1, 2])
      assert.equal((await admin('POST', `/v1/admin/cells/${id}/failover`)).status, 200);
    const twice = await admin('POST', '/v1/admin/cells/0/failover');
    assert.equal(twice.status, 409);
    assert.equal(twice.body.code, 'CELL_OPERATION_REJECTED');
    const last = await admin('POST', '/v1/admin/cells/3/failover');
    assert.equal(last.status, 409);
    assert.equal(last.body.code, 'CELL_OPERATION_REJECTED');
    assert.equal(onDisk().version, map.version + 3);
    assert.equal(onDisk().cells[3]!.status, 'active');
  });
});
