// Several edge processes on one port: the supervisor starts them, replaces one that dies, and
// stops them all on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serializeCellMap } from '../../cells/index.ts';
import { childPidsRunning, freePort, portOpen } from '../../deploy/local/os-tools.ts';
import { startIdentity } from '../../services/auth/test/identity-harness.ts';
import { testMap } from './edge-harness.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PORT = await freePort();

/** The edge processes (tsx may also have started an esbuild service child of the supervisor). */
const childrenOf = (pid: number) => childPidsRunning(pid, 'edge/main.ts');

/** Listening sockets on `port` (each SO_REUSEPORT listener is its own line in /proc/net/tcp). */
function listeners(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((line) => {
      const f = line.trim().split(/\s+/);
      return f[1]?.endsWith(`:${hex}`) && f[3] === '0A';
    }).length;
}

/** A GET on a connection of its own (a kept-alive one may belong to the process just killed). */
function freshGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('two edge processes share the port; a killed one is replaced; SIGTERM stops all', async () => {
  const identity = await startIdentity();
  const mapFile = join(mkdtempSync(join(tmpdir(), 'titan-edge-mp-')), 'cells.json');
  writeFileSync(mapFile, serializeCellMap(testMap()));
  const supervisor = spawn(process.execPath, ['--import', 'tsx', 'edge/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      TITAN_EDGE_PROCESSES: '2',
      TITAN_EDGE_PORT: String(PORT),
      TITAN_EDGE_HOST: '127.0.0.1',
      TITAN_POW_SECRET: 'edge-test-pow-secret-0123456789',
      TITAN_CELL_MAP: mapFile,
      TITAN_AUTH_URL: identity.authUrl,
      TITAN_USER_URL: identity.userUrl,
      TITAN_AUTH_JWKS_URL: `${identity.authUrl}/v1/auth/jwks`,
    },
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const exited = new Promise<number | null>((r) => supervisor.on('exit', (code) => r(code)));
  try {
    await until(() => childrenOf(supervisor.pid!).length === 2, 'two edge processes');
    await until(
      async () => (await fetch(`http://127.0.0.1:${PORT}/ready`).catch(() => undefined))?.status === 200,
      'ready',
    );
    await until(() => listeners(PORT) === 2, 'both edge processes listening');
    const [victim] = childrenOf(supervisor.pid!);
    process.kill(victim!, 'SIGKILL');
    await until(() => !childrenOf(supervisor.pid!).includes(victim!), 'the victim to be gone');
    // Service goes on while the supervisor replaces the dead one. A connection the kernel had handed to
    // a listener in the middle of dying or starting can be reset; a client's one retry on a new
    // connection must then succeed.
    let resets = 0;
    for (let i = 0; i < 20; i++) {
      const status = await freshGet(`http://127.0.0.1:${PORT}/health`).catch(() => {
        resets++;
        return freshGet(`http://127.0.0.1:${PORT}/health`);
      });
      assert.equal(status, 200);
    }
    assert.ok(resets <= 2, `${resets} of 20 connections were reset`);
    await until(() => {
      const now = childrenOf(supervisor.pid!);
      return now.length === 2 && !now.includes(victim!);
    }, 'a replacement process');
    supervisor.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(await portOpen(PORT), false);
  } finally {
    supervisor.kill('SIGKILL');
    await identity.stop();
  }
});
