// The `titan` CLI as operators run it: a child process against a real edge (with real auth and user
// services), checking stdout, stderr and exit codes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCellMap, SLOT_COUNT } from '../../cells/index.ts';
import { registerCellAdminRoutes } from '../../edge/admin-cells.ts';
import { type EdgeHarness, startEdge, testMap } from '../../edge/test/edge-harness.ts';
import { createLogger } from '../../services/kit/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const password = 'operator password 2';
let h: EdgeHarness;
let email: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `titan <args>` as a child process; `auth: false` leaves the account flags out. */
function titan(
  args: string[],
  options: { env?: Record<string, string>; auth?: boolean; edge?: string } = {},
): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const k of ['TITAN_EDGE_URL', 'TITAN_BOOTSTRAP_ADMIN_EMAIL', 'TITAN_BOOTSTRAP_ADMIN_PASSWORD'])
    delete env[k];
  if (!options.env?.TITAN_TOKEN) delete env.TITAN_TOKEN;
  const account = options.auth === false ? [] : ['--email', email, '--password', password];
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'deploy/cli/titan.ts', ...args, '--edge', options.edge ?? h.base, ...account],
    { cwd: root, env },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const json = (r: Run) => {
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return JSON.parse(r.stdout);
};
const onDisk = () => loadCellMap(h.mapFile, { env: false });

before(async () => {
  h = await startEdge({
    map: testMap(4),
    env: { TITAN_EDGE_USER_RATE: '10000', TITAN_EDGE_USER_BURST: '10000' },
  });
  if (!h.edge.server.routes.some((r) => r.pattern === '/v1/admin/cells')) {
    registerCellAdminRoutes(h.edge.route, {
      routing: h.edge.routing,
      log: createLogger({ name: 'titan-cli-test', level: 'silent' }),
    });
  }
  email = h.identity.email();
  const reg = await h.call('POST', '/v1/auth/register', { body: { email, password } });
  assert.equal(reg.status, 201);
  await h.identity.db.pool.query("UPDATE users SET roles = ARRAY['buyer','operator'] WHERE id = $1", [
    reg.body.userId,
  ]);
});
after(() => h?.stop());

describe('reading', () => {
  test('cells list: JSON for machines, a table for people', async () => {
    const [machine, human] = await Promise.all([
      titan(['cells', 'list', '--json']),
      titan(['cells', 'list']),
    ]);
    const body = json(machine);
    assert.equal(body.version, onDisk().version);
    assert.deepEqual(
      body.cells.map((c: { id: number; slots: { count: number } }) => [c.id, c.slots.count]),
      [0, 1, 2, 3].map((id) => [id, SLOT_COUNT / 4]),
    );
    assert.equal(human.code, 0, human.stderr);
    const lines = human.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^cell map edge-test, version \d+$/);
    assert.match(lines[1]!, /^CELL\s+STATUS\s+SERVED BY\s+BACKUP\s+SHARD\s+SLOTS\s+SHARE\s+FLASHSALE/);
    assert.equal(lines.length, 6);
    assert.match(lines[3]!, /^1\s+active\s+1\s+2\s+s0\s+4096\s+25\.00%\s+threads 2-4 batch 64/);
  });

  test('cells show: one cell with its settings; an unknown cell exits 1 with the code on stderr', async () => {
    const [machine, human, unknown] = await Promise.all([
      titan(['cells', 'show', '2', '--json']),
      titan(['cells', 'show', '2']),
      titan(['cells', 'show', '99']),
    ]);
    assert.equal(json(machine).cell.id, 2);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^cell 2 \(map version \d+\)/);
    assert.match(human.stdout, /\nmaxThreads\s+4\s+2\s+2\n/);
    assert.match(human.stdout, /\nreviewThreshold\s+-\s+-\s+0\.7\n/);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^CELL_UNKNOWN: no cell 99/);
  });

  test('login failures, a non-operator and an unreachable edge exit 1 with a code', async () => {
    const buyer = await h.user();
    const [wrong, forbidden, unreachable, byToken] = await Promise.all([
      titan(['cells', 'list', '--email', email, '--password', 'not it'], { auth: false }),
      titan(['cells', 'list'], { auth: false, env: { TITAN_TOKEN: buyer.token } }),
      titan(['cells', 'list'], { edge: 'http://127.0.0.1:9' }),
      titan(['cells', 'list', '--json'], {
        auth: false,
        env: {
          TITAN_TOKEN: (await h.call('POST', '/v1/auth/login', { body: { email, password } })).body
            .accessToken,
        },
      }),
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^[A-Z_]+: /);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /^FORBIDDEN: /);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^EDGE_UNREACHABLE: /);
    assert.equal(json(byToken).cells.length, 4, 'TITAN_TOKEN is used when no account is given');
  });
});

describe('changing', () => {
  test('cells tune writes the next version; bad settings and stale versions exit 1 with a code', async () => {
    const v = onDisk().version;
    const ok = json(
      await titan([
        'cells',
        'tune',
        '1',
        '--pool',
        'flashSale',
        '--max-threads',
        '12',
        '--batch-max',
        '128',
        '--json',
      ]),
    );
    assert.equal(ok.version, v + 1);
    assert.equal(onDisk().cells[1]!.pools.flashSale.maxThreads, 12);
    assert.equal(onDisk().cells[1]!.pools.flashSale.batchMaxSize, 128);

    const human = await titan([
      'cells',
      'tune',
      '1',
      '--pool',
      'fraud',
      '--deny-threshold',
      '0.95',
      '--if-version',
      String(v + 1),
    ]);
    assert.equal(human.code, 0, human.stderr);
    assert.equal(human.stdout, `cell 1 fraud tuned: denyThreshold 0.95 (map version ${v + 2})\n`);

    const [invalid, stale, nothing] = await Promise.all([
      titan(['cells', 'tune', '1', '--pool', 'flashSale', '--min-threads', '9', '--max-threads', '8']),
      titan(['cells', 'tune', '1', '--pool', 'flashSale', '--max-threads', '6', '--if-version', String(v)]),
      titan(['cells', 'tune', '1', '--pool', 'flashSale']),
    ]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /^CELL_CHANGE_INVALID: .*minThreads/);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /^CELL_MAP_CONFLICT: /);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /at least one setting/);
    assert.equal(onDisk().version, v + 2);
  });

  test('cells failover routes the cell to its backup; failing it over again exits 1', async () => {
    const v = onDisk().version;
    const r = await titan(['cells', 'failover', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `cell 2 down (map version ${v + 1}): 4096 slots (25.00% of users) now served by cell 3; 0 slots of other cells changed\n`,
    );
    assert.equal(onDisk().cells[2]!.status, 'down');
    assert.equal(h.edge.routing.router.servingCellOf(2), 3);
    const again = await titan(['cells', 'failover', '2']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^CELL_OPERATION_REJECTED: cell 2 is already down/);
  });

  test('cells add and cells drain', async () => {
    const v = onDisk().version;
    const added = json(await titan(['cells', 'add', '1', '--json']));
    assert.equal(added.version, v + 1);
    assert.deepEqual(
      added.cells.map((c: { id: number }) => c.id),
      [4],
    );
    assert.equal(added.moved.perCell[0].slots, Math.floor(SLOT_COUNT / 5));
    const drained = await titan(['cells', 'drain', '4']);
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, new RegExp(`^cell 4 draining \\(map version ${v + 2}\\)`));
    assert.equal(onDisk().cells[4]!.status, 'draining');
  });
});
