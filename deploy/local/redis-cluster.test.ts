// The local stack's Redis Cluster, run privately (own temp dir, free ports) beside the test stack.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Cluster } from 'ioredis';
import { TitanError } from '../../services/kit/index.ts';
import { freePortBlock, run } from './os-tools.ts';
import { CLUSTER_BUS_OFFSET, CLUSTER_NODES, MAX_CLUSTER_BASE_PORT, RedisCluster } from './redis-cluster.ts';
import { devStackSettings, testStackSettings } from './settings.ts';
import { stackEnv } from './stack.ts';

const bins = { redisServer: 'redis-server', redisCli: 'redis-cli' };
const cli = (port: number, ...args: string[]) =>
  run('redis-cli', ['-p', String(port), ...args]).stdout.trim();

test('3 masters + 3 replicas created once; a restart brings the same cluster back with its data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'titan-cluster-test-'));
  const base = await freePortBlock(CLUSTER_NODES, { alsoOffsets: [CLUSTER_BUS_OFFSET] });
  const cluster = new RedisCluster(bins, dir, base);
  try {
    await cluster.start();
    const status = await cluster.status();
    assert.equal(status.running, true);
    assert.equal(status.detail, 'cluster_state:ok, 6/6 nodes up');
    assert.deepEqual(
      cluster.seeds(),
      [0, 1, 2, 3, 4, 5].map((i) => `redis://127.0.0.1:${base + i}`),
    );
    const roles = cluster.ports.map((p) => cli(p, 'ROLE').split('\n')[0]);
    assert.deepEqual(roles.filter((r) => r === 'master').length, 3);
    assert.deepEqual(roles.filter((r) => r === 'slave').length, 3);
    const ids = cluster.ports.map((p) => cli(p, 'CLUSTER', 'MYID'));

    const client = new Cluster(cluster.seeds());
    await Promise.all(['{a}', '{b}', '{c}'].map((k) => client.set(`${k}kept`, 'yes')));
    client.disconnect();
    await cluster.start(); // already running: nothing happens

    await cluster.stop();
    assert.equal((await cluster.status()).running, false);
    await cluster.start();
    assert.deepEqual(
      cluster.ports.map((p) => cli(p, 'CLUSTER', 'MYID')),
      ids,
      'not re-created: the same nodes came back',
    );
    const again = new Cluster(cluster.seeds());
    assert.deepEqual(
      await Promise.all(['{a}', '{b}', '{c}'].map((k) => again.get(`${k}kept`))),
      ['yes', 'yes', 'yes'],
      'data survives a restart (AOF)',
    );
    again.disconnect();
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a taken bus port is reported with the setting before any node starts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'titan-cluster-clash-'));
  const base = await freePortBlock(CLUSTER_NODES, { alsoOffsets: [CLUSTER_BUS_OFFSET] });
  const taken = base + 4 + CLUSTER_BUS_OFFSET;
  const blocker = createServer().listen(taken, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const cluster = new RedisCluster(bins, dir, base, { portSetting: 'TITAN_TEST_REDIS_CLUSTER_PORT' });
  try {
    await assert.rejects(
      cluster.start(),
      (err: unknown) =>
        err instanceof TitanError &&
        err.code === 'STACK_PORT_IN_USE' &&
        new RegExp(`Port ${taken} .*TITAN_TEST_REDIS_CLUSTER_PORT`).test(err.message),
    );
    assert.equal((await cluster.status()).running, false);
    assert.equal(cli(base, 'PING'), '', 'no node was started');
  } finally {
    blocker.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('settings: single by default, cluster on request, base ports whose bus ports exist', () => {
  const dev = devStackSettings({});
  assert.deepEqual([dev.redisMode, dev.redisClusterPort], ['single', 17000]);
  const test = testStackSettings({});
  assert.deepEqual([test.redisMode, test.redisClusterPort], ['single', 28000]);
  const c = devStackSettings({ TITAN_REDIS_MODE: 'cluster', TITAN_REDIS_CLUSTER_PORT: '18000' });
  assert.deepEqual([c.redisMode, c.redisClusterPort], ['cluster', 18000]);
  const t = testStackSettings({ TITAN_TEST_REDIS_MODE: 'cluster', TITAN_REDIS_MODE: 'single' });
  assert.equal(t.redisMode, 'cluster', 'the test stack reads only its own variable');
  assert.throws(() => devStackSettings({ TITAN_REDIS_MODE: 'sharded' }), /TITAN_REDIS_MODE/);
  assert.throws(
    () => devStackSettings({ TITAN_REDIS_CLUSTER_PORT: String(MAX_CLUSTER_BASE_PORT + 1) }),
    /TITAN_REDIS_CLUSTER_PORT/,
  );
  assert.equal(MAX_CLUSTER_BASE_PORT + CLUSTER_NODES - 1 + CLUSTER_BUS_OFFSET, 65535);
});

test('the stack environment carries the cluster seeds only in cluster mode', () => {
  const info = {
    label: 'x',
    dataDir: '/tmp/x',
    redisUrl: 'redis://127.0.0.1:1',
    databaseUrl: 'postgres://t@127.0.0.1:2/t',
    adminDatabaseUrl: 'postgres://t@127.0.0.1:2/postgres',
    kafkaBrokers: null,
    redisClusterSeeds: null,
  };
  assert.equal(stackEnv(info).TITAN_REDIS_CLUSTER_SEEDS, undefined);
  const env = stackEnv({ ...info, redisClusterSeeds: ['redis://127.0.0.1:3', 'redis://127.0.0.1:4'] });
  assert.equal(env.TITAN_REDIS_CLUSTER_SEEDS, 'redis://127.0.0.1:3,redis://127.0.0.1:4');
  assert.equal(env.TITAN_REDIS_URL, 'redis://127.0.0.1:1', 'the single Redis stays for everything else');
});
