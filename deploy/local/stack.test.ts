// Runs a second, private stack beside the test stack `npm test` started: its own data dir and ports.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { TitanError } from '../../services/kit/index.ts';
import { freePort } from './os-tools.ts';
import type { StackSettings } from './settings.ts';
import { LocalStack } from './stack.ts';

const settings: StackSettings = {
  dataDir: mkdtempSync(join(tmpdir(), 'titan-stack-test-')),
  redisPort: await freePort(),
  pgPort: await freePort(),
  kafka: false,
  kafkaBrokers: 1,
  label: 'stack-test',
};
const stack = new LocalStack(settings, () => {});
after(() => stack.reset());

test('a second stack runs beside the test stack, restarts harmlessly, and keeps data across stop/start', async () => {
  const info = await stack.start();
  assert.equal(info.redisUrl, `redis://127.0.0.1:${settings.redisPort}`);
  assert.notEqual(info.redisUrl, process.env.TITAN_REDIS_URL);
  await stack.start(); // already running: nothing happens

  const redis = new Redis(info.redisUrl);
  await redis.set('kept', 'yes');
  redis.disconnect();
  const client = new pg.Client(info.databaseUrl);
  await client.connect();
  await client.query('CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$yes$$)');
  await client.end();

  await stack.stop();
  assert.ok((await stack.status()).every((s) => !s.running));
  await stack.start();
  assert.ok((await stack.status()).filter((s) => s.name !== 'kafka').every((s) => s.running));

  const redis2 = new Redis(info.redisUrl);
  assert.equal(await redis2.get('kept'), 'yes', 'Redis data survives a restart (AOF)');
  redis2.disconnect();
  const client2 = new pg.Client(info.databaseUrl);
  await client2.connect();
  assert.equal((await client2.query('SELECT v FROM kept')).rows[0].v, 'yes');
  await client2.end();
  await stack.stop();
});

test('a port taken by another process gets a clear error naming the setting', async () => {
  const taken = await freePort();
  const blocker = createServer().listen(taken, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const clash = new LocalStack(
    { ...settings, dataDir: mkdtempSync(join(tmpdir(), 'titan-clash-')), redisPort: taken },
    () => {},
  );
  try {
    await assert.rejects(clash.start(), (err: unknown) => {
      return (
        err instanceof TitanError &&
        err.code === 'STACK_PORT_IN_USE' &&
        new RegExp(`${taken}.*TITAN_REDIS_PORT`).test(err.message)
      );
    });
  } finally {
    blocker.close();
    await clash.reset();
  }
});
