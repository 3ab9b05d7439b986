/**
 * Shared helpers of the lua tests: the shared test Redis (env TITAN_REDIS_URL), unique ids so test files can
 * run concurrently on one Redis without FLUSHDB, a key-space snapshot to prove a refused call wrote nothing, a
 * private redis-server child (unix socket, fresh temp dir, AOF always) for tests that restart Redis or change
 * its configuration, and a private Redis Cluster (3 masters + 3 replicas) for the cluster tests.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import { openShardRedis } from '../cells/shard-clients.ts';
import { freePortBlock } from '../deploy/local/os-tools.ts';
import { CLUSTER_BUS_OFFSET, CLUSTER_NODES, RedisCluster } from '../deploy/local/redis-cluster.ts';
import { decodeOutboxEntry } from '../services/events/outbox-records.ts';
import { configureSaleCell, createSale } from './admin.ts';
import { loadScripts, type RedisClient, type TitanScripts } from './loader.ts';
import { transferQuota } from './quota-transfer.ts';
import { scanKeys } from './scan.ts';

export function redisUrl(): string {
  const url = process.env['TITAN_REDIS_URL'];
  if (url === undefined || url === '') {
    throw new Error(
      'TITAN_REDIS_URL is not set: the lua tests need a real Redis (e.g. redis://127.0.0.1:27379)',
    );
  }
  return url;
}

/** A new connection to the shared test Redis. Close it with `quit()`. */
export function connect(options: RedisOptions = {}): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: 3, ...options });
}

export async function connectScripts(options: RedisOptions = {}): Promise<TitanScripts> {
  return loadScripts(connect(options));
}

/** A fresh id, unique across concurrent test files and runs (valid as cell, sale, user or sku id). */
export function uid(prefix = 't'): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

/** Everything stored under a hash tag ('{c<cell>}', '{fs:<sale>}', ...), as comparable plain data. */
export async function snapshotTag(redis: RedisClient, tag: string): Promise<Record<string, unknown>> {
  const keys = await scanKeys(redis, `${tag.replace(/[*?[\]\\]/g, '\\$&')}*`);
  keys.sort();
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const type = await redis.type(key);
    if (type === 'hash') out[key] = await redis.hgetall(key);
    else if (type === 'zset') out[key] = await redis.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'stream') out[key] = await redis.xrange(key, '-', '+');
    else if (type === 'string') out[key] = await redis.get(key);
    else out[key] = type;
  }
  return out;
}

/**
 * A cell's outbox events in order, `{ type, data }` with `data` the record as the script wrote it. A purchase
 * batch's `reservations.created` entry is expanded, through the relay's own decoder, into one
 * `reservation.created` event per reservation with the record `<saleId>|<rid>|<userId>|<qty>|<expiresAt>`.
 */
export async function outboxEvents(
  redis: RedisClient,
  cell: string,
): Promise<{ type: string; data: string }[]> {
  const entries = (await redis.xrange(`{c${cell}}:outbox`, '-', '+')) as [string, string[]][];
  return entries.flatMap(([id, fields]) => {
    if (fields[0] !== 'reservations.created') return [{ type: fields[0]!, data: fields[1]! }];
    return decodeOutboxEntry(Number(cell), id, fields).map((e) => {
      const p = e.payload as {
        saleId: string;
        reservationId: string;
        userId: string;
        qty: number;
        expiresAt: number;
      };
      const rid = p.reservationId.slice(p.reservationId.lastIndexOf('-') + 1);
      return { type: e.type, data: [p.saleId, rid, p.userId, p.qty, p.expiresAt].join('|') };
    });
  });
}

export interface SaleSetup {
  readonly saleId: string;
  readonly cell: string;
  readonly startsAt: number;
  readonly endsAt: number;
}

/** Creates a sale with `initial` units, opens it in a (fresh) cell and moves `quota` units from the pool there. */
export async function setupSale(
  scripts: TitanScripts,
  opts: {
    initial: number;
    quota: number;
    perUserLimit: number;
    ttlMs?: number;
    cell?: string;
    saleId?: string;
  },
): Promise<SaleSetup> {
  const saleId = opts.saleId ?? uid('s');
  const cell = opts.cell ?? uid('c');
  const startsAt = 1_000_000;
  const endsAt = 2_000_000;
  await createSale(scripts.redis, { saleId, initial: opts.initial });
  await configureSaleCell(scripts.redis, {
    cell,
    saleId,
    startsAt,
    endsAt,
    perUserLimit: opts.perUserLimit,
    reservationTtlMs: opts.ttlMs ?? 60_000,
  });
  if (opts.quota > 0) {
    const r = await transferQuota(scripts, {
      saleId,
      transferId: uid('x'),
      amount: opts.quota,
      from: 'pool',
      to: { cell },
      now: startsAt,
    });
    if (r.status !== 'DONE') throw new Error(`setup transfer failed: ${JSON.stringify(r)}`);
  }
  return { saleId, cell, startsAt, endsAt };
}

export interface PrivateRedis {
  readonly dir: string;
  readonly socket: string;
  /** A new client on the private server (its connection errors are silenced: crashes are on purpose). */
  client(options?: RedisOptions): Redis;
  /** Kills the server (SIGKILL: a crash, nothing flushed beyond what AOF fsync=always already wrote). */
  crash(): Promise<void>;
  /** Starts the server again on the same dir and socket (it replays its AOF). */
  start(): Promise<void>;
  /** Kills the server and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server child on a unix socket in a fresh temp dir, with AOF and fsync always, so a test
 * may crash/restart it or change its configuration without touching the shared test Redis.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'titan-lua-'));
  const socket = join(dir, 'r.sock');
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--unixsocket',
        socket,
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    child = proc;
    const probe = new Redis({
      path: socket,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    try {
      for (let i = 0; i < 200; i++) {
        if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
        try {
          if (probe.status !== 'ready') await probe.connect();
          // LOADING replies until the AOF is replayed
          if ((await probe.ping()) === 'PONG') return;
        } catch {
          probe.disconnect();
          await sleep(25);
        }
      }
      throw new Error('private redis-server did not start');
    } finally {
      probe.disconnect();
    }
  };
  const crash = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    dir,
    socket,
    // connection errors are expected while a test has the server down; commands wait for the reconnect
    client: (options: RedisOptions = {}) => new Redis({ path: socket, ...options }).on('error', () => {}),
    crash,
    start,
    async stop() {
      await crash();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateCluster {
  readonly server: RedisCluster;
  readonly seeds: readonly string[];
  /**
   * A new Cluster client with the options cells/ShardClients uses, except a longer command timeout: the tests
   * load a 2-core machine much harder than a shard's health check expects. Close it with `quit()`.
   */
  client(): Cluster;
  /** Stops the six nodes and removes their directory. */
  stop(): Promise<void>;
}

/**
 * Starts a private Redis Cluster (deploy/local's RedisCluster: 3 masters with a replica each) in a fresh temp
 * dir, on six free consecutive ports whose bus ports (+10000) are free too.
 */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'titan-cluster-'));
  const base = await freePortBlock(CLUSTER_NODES, { alsoOffsets: [CLUSTER_BUS_OFFSET] });
  const server = new RedisCluster({ redisServer: 'redis-server', redisCli: 'redis-cli' }, dir, base);
  try {
    await server.start();
  } catch (err) {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const seeds = server.seeds();
  return {
    server,
    seeds,
    client: () => {
      const c = openShardRedis({ cluster: [...seeds] }, { redis: { commandTimeout: 10_000 } }) as Cluster;
      return c.on('error', () => {});
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The port of the master serving `slot`, as the cluster itself reports it now (CLUSTER SLOTS), not the client's
 * cached slot map: fault harnesses use it to see a failover happen.
 */
export async function masterPortOfSlot(client: Cluster, slot: number): Promise<number> {
  const ranges = await client.cluster('SLOTS');
  const owner = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
  if (!owner) throw new Error(`no master serves slot ${slot}`);
  return Number(owner[1]);
}
