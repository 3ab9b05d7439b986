import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Lifecycle } from './lifecycle.ts';
import { createLogger } from './logger.ts';

const fixture = fileURLToPath(new URL('./test/fixtures/slow-server.ts', import.meta.url));

test('SIGTERM drains the in-flight request, refuses new connections, closes parts in order and exits 0', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const output: string[] = [];
  const port = await new Promise<number>((resolve) => {
    lines.on('line', (line) => {
      output.push(line);
      if (line.startsWith('{')) resolve(JSON.parse(line).port);
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const slow = fetch(`http://127.0.0.1:${port}/slow?ms=600`);
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  await assert.rejects(
    fetch(`http://127.0.0.1:${port}/health`),
    'new connections must be refused while draining',
  );
  const res = await slow;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { done: true });
  assert.equal(await exited, 0);
  assert.deepEqual(output.slice(1), ['closed:http', 'closed:database']);
});

test('a closer that overruns the deadline makes shutdown report failure', async () => {
  const lifecycle = new Lifecycle({
    log: createLogger({ name: 't', level: 'silent' }),
    timeoutMs: 100,
    exit: false,
    signals: [],
  });
  const closed: string[] = [];
  lifecycle.onShutdown('fast', () => {
    closed.push('fast');
  });
  lifecycle.onShutdown('stuck', () => new Promise(() => {}));
  assert.equal(await lifecycle.shutdown(), false);
  assert.deepEqual(closed, ['fast'], 'parts after a stuck one still close');
  assert.equal(await lifecycle.shutdown(), false, 'a second call returns the same outcome');
});
