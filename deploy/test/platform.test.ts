// `npm start` end to end, on a private data dir and ports: the platform comes up, answers /health
// and /ready, and Ctrl-C (SIGINT) stops every process it started, stack servers included. Then the same
// with `TITAN_REDIS_MODE=cluster`: the cells on a Redis Cluster of 3 masters + 3 replicas sell a sale.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createSale, loginOperator } from '../../native-bench/lib/platform.ts';
import { freePort, freePortBlock, portOpen } from '../local/os-tools.ts';
import { CLUSTER_BUS_OFFSET, CLUSTER_NODES } from '../local/redis-cluster.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const OPERATOR = { email: 'operator@titan.local', password: 'titan-operator-demo' };

interface Platform {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  ports: Record<string, number>;
  base: string;
  authUrl: string;
}

/** `npm start`'s entry point on a data dir and ports of its own; resolves once it says it is running. */
async function startPlatform(env: Record<string, string> = {}): Promise<Platform> {
  const dataDir = mkdtempSync(join(tmpdir(), 'titan-platform-test-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const ports: Record<string, number> = {
    redis: await freePort(),
    pg: await freePort(),
    edge: await freePort(),
    auth: await freePort(),
    user: await freePort(),
    catalog: await freePort(),
    flashSale: await freePort(),
    relay: await freePort(),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'deploy/local/platform.ts'], {
    cwd: root,
    env: {
      ...process.env,
      TITAN_DATA_DIR: dataDir,
      TITAN_REDIS_PORT: String(ports.redis),
      TITAN_PG_PORT: String(ports.pg),
      TITAN_EDGE_PORT: String(ports.edge),
      TITAN_AUTH_PORT: String(ports.auth),
      TITAN_USER_PORT: String(ports.user),
      TITAN_CATALOG_PORT: String(ports.catalog),
      TITAN_FLASH_SALE_PORT: String(ports.flashSale),
      TITAN_RELAY_PORT: String(ports.relay),
      TITAN_SCRYPT_LOG_N: '12',
      TITAN_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  after(() => {
    // A failed assertion must not leave the platform running.
    if (child.exitCode === null) child.kill('SIGINT');
  });
  const deadline = Date.now() + 120_000;
  while (!output.includes('Titan Commerce is running')) {
    assert.ok(Date.now() < deadline, `platform did not come up:\n${output}`);
    assert.equal(child.exitCode, null, `platform exited early:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const base = `http://127.0.0.1:${ports.edge}`;
  assert.match(output, new RegExp(base));
  return { child, output: () => output, exited, ports, base, authUrl: `http://127.0.0.1:${ports.auth}` };
}

async function assertReady(p: Platform): Promise<void> {
  assert.deepEqual(await (await fetch(`${p.base}/health`)).json(), { status: 'ok' });
  const ready = await fetch(`${p.base}/ready`);
  assert.equal(ready.status, 200);
  const report = (await ready.json()) as { checks: Record<string, { ok: boolean }> };
  assert.equal(report.checks.shards?.ok, true);
  assert.equal(report.checks['cell-map']?.ok, true);
}

/** Ctrl-C: the platform exits 0 and nothing it started still listens. */
async function assertStopsClean(p: Platform, extraPorts: readonly number[] = []): Promise<void> {
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 0, p.output());
  for (const [name, port] of [
    ...Object.entries(p.ports),
    ...extraPorts.map((q) => [`node ${q}`, q] as const),
  ]) {
    assert.equal(await portOpen(port), false, `${name} still listens on ${port} after Ctrl-C`);
  }
}

test('npm start serves /health and /ready, and SIGINT leaves no process behind', async () => {
  const p = await startPlatform();
  await assertReady(p);
  const base = p.base;

  // The seeded operator logs in through the auth service and reads its profile from the user service.
  assert.match(p.output(), /operator@titan\.local \/ titan-operator-demo/);
  const accessToken = await loginOperator(p.authUrl, OPERATOR.email, OPERATOR.password);
  const me = await fetch(`http://127.0.0.1:${p.ports.user}/v1/users/me`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  assert.equal(me.status, 200);
  const profile = (await me.json()) as { email: string; roles: string[] };
  assert.equal(profile.email, 'operator@titan.local');
  assert.ok(profile.roles.includes('admin') && profile.roles.includes('operator'));

  // The demo catalog and the demo flash sale are seeded and served through the edge.
  const products = await fetch(`${base}/v1/catalog/products?limit=100`);
  assert.equal(products.status, 200);
  const { items } = (await products.json()) as { items: { sku: string }[] };
  assert.ok(items.length >= 20 && items.some((p) => p.sku === 'FLASH-PHONE-1'));
  const { sales } = (await (
    await fetch(`http://127.0.0.1:${p.ports.flashSale}/internal/v1/flash-sales`)
  ).json()) as {
    sales: { id: string }[];
  };
  assert.equal(sales.length, 1);
  let demo: Response | undefined;
  for (let i = 0; i < 50 && demo?.status !== 200; i++) {
    demo = await fetch(`${base}/v1/flash-sales/${sales[0]!.id}`);
    if (demo.status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  const sale = (await demo!.json()) as { state: string; remaining: number; sku: string };
  assert.deepEqual([sale.state, sale.remaining, sale.sku], ['scheduled', 100, 'FLASH-PHONE-1']);

  await assertStopsClean(p);
});

test('TITAN_REDIS_MODE=cluster npm start: the cells run on a Redis Cluster and sell a flash sale', async () => {
  const clusterBase = await freePortBlock(CLUSTER_NODES, { alsoOffsets: [CLUSTER_BUS_OFFSET] });
  const p = await startPlatform({
    TITAN_REDIS_MODE: 'cluster',
    TITAN_REDIS_CLUSTER_PORT: String(clusterBase),
  });
  await assertReady(p);
  const token = await loginOperator(p.authUrl, OPERATOR.email, OPERATOR.password);
  const saleId = await createSale(p.base, token, {
    stock: 3,
    perUserLimit: 5,
    title: 'cluster npm start',
    sku: 'FLASH-PHONE-1',
  });
  const answers: number[] = [];
  for (let i = 0; i < 4; i++) {
    let r: Response;
    // the first purchase of a cell may meet its worker still starting: a coded 503 asks for a retry
    do {
      r = await fetch(`${p.base}/v1/flash-sales/${saleId}/purchase`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'idempotency-key': `cluster-start-${i}`,
          'content-type': 'application/json',
        },
        body: '{"qty":1}',
      });
      if (r.status === 503) await new Promise((res) => setTimeout(res, 200));
    } while (r.status === 503);
    answers.push(r.status);
  }
  assert.deepEqual(answers, [200, 200, 200, 409], 'three units sold, the fourth purchase finds it sold out');
  const ledger = await fetch(`${p.base}/v1/admin/flash-sales/${saleId}/ledger`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const l = (await ledger.json()) as { balanced: boolean; reserved: number; stock: number };
  assert.deepEqual([l.balanced, l.reserved, l.stock], [true, 3, 3]);
  const nodes = Array.from({ length: CLUSTER_NODES }, (_, i) => clusterBase + i);
  await assertStopsClean(p, nodes);
});
