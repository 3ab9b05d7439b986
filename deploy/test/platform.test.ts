// `npm start` end to end, on a private data dir and ports: the platform comes up, answers /health
// and /ready, and Ctrl-C (SIGINT) stops every process it started, stack servers included.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, portOpen } from '../local/os-tools.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'titan-platform-test-'));
const ports = {
  redis: await freePort(),
  pg: await freePort(),
  edge: await freePort(),
  auth: await freePort(),
  user: await freePort(),
  catalog: await freePort(),
  flashSale: await freePort(),
  relay: await freePort(),
};
after(() => rmSync(dataDir, { recursive: true, force: true }));

test('npm start serves /health and /ready, and SIGINT leaves no process behind', async () => {
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
  const deadline = Date.now() + 90_000;
  while (!output.includes('Titan Commerce is running')) {
    assert.ok(Date.now() < deadline, `platform did not come up:\n${output}`);
    assert.equal(child.exitCode, null, `platform exited early:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(output, new RegExp(`http://127.0.0.1:${ports.edge}`));
  const base = `http://127.0.0.1:${ports.edge}`;
  assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: 'ok' });
  const ready = await fetch(`${base}/ready`);
  assert.equal(ready.status, 200);
  const report = (await ready.json()) as { checks: Record<string, { ok: boolean }> };
  assert.equal(report.checks.shards?.ok, true);
  assert.equal(report.checks['cell-map']?.ok, true);

  // The seeded operator logs in through the auth service and reads its profile from the user service.
  assert.match(output, /operator@titan\.local \/ titan-operator-demo/);
  const login = await fetch(`http://127.0.0.1:${ports.auth}/v1/auth/login`, {
    method: 'POST',
    body: JSON.stringify({ email: 'operator@titan.local', password: 'titan-operator-demo' }),
  });
  assert.equal(login.status, 200);
  const { accessToken } = (await login.json()) as { accessToken: string };
  const me = await fetch(`http://127.0.0.1:${ports.user}/v1/users/me`, {
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
    await fetch(`http://127.0.0.1:${ports.flashSale}/internal/v1/flash-sales`)
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

  child.kill('SIGINT');
  assert.equal(await exited, 0, output);
  for (const [name, port] of Object.entries(ports)) {
    assert.equal(await portOpen(port), false, `${name} still listens on ${port} after Ctrl-C`);
  }
});
