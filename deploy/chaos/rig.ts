/**
 * The chaos rig: the platform as it runs in production, in separate processes that faults can hit.
 *
 * - PostgreSQL and a "shared" Redis (auth's rate limits, the Redis Streams bus) come from the bench stack
 *   (its own servers, or the test stack's when given `external` URLs).
 * - Two hot-path shards, each its own `redis-server` with AOF (fsync policy per run) on free ports, so a
 *   fault can kill -9 or stop one without touching anything else.
 * - A cell map of `cells` cells spread over the two shards (each cell backed by a cell on the other shard).
 * - Processes: auth, flash-sale (control plane + sweeper), the events relay, and the edge supervisor with
 *   two edge processes sharing the port (`TITAN_CHAOS_HOOKS=1`: SIGUSR2 kills a worker thread).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  type CellMap,
  generateMap,
  LOCAL_CELL_MAP_PATH,
  loadCellMap,
  serializeCellMap,
} from '../../cells/index.ts';
import { type BenchProcess, BenchStack, OPERATOR } from '../../native-bench/lib/stack.ts';
import { childPidsRunning, freePort, waitFor } from '../local/os-tools.ts';
import { RedisServer } from '../local/redis-server.ts';
import { ensureSystemPackages } from '../local/system-packages.ts';

export type AppendFsync = 'always' | 'everysec';

export interface ChaosRigOptions {
  dataDir: string;
  /** Use this Redis (shared role) and database instead of starting servers (the short version in npm test). */
  external?: { redisUrl: string; databaseUrl: string };
  cells: number;
  appendFsync: AppendFsync;
  log: (msg: string) => void;
}

export class Shard {
  readonly client: Redis;
  constructor(
    readonly id: string,
    readonly server: RedisServer,
    readonly port: number,
    readonly pidFile: string,
  ) {
    this.client = new Redis(server.url, {
      maxRetriesPerRequest: 1,
      lazyConnect: true,
      enableOfflineQueue: true,
    });
    // Faults take this server away on purpose: a refused connection is expected, not an unhandled error.
    this.client.on('error', () => {});
  }
  get url(): string {
    return this.server.url;
  }
}

export class ChaosRig {
  readonly stack: BenchStack;
  readonly shards: Shard[] = [];
  map!: CellMap;
  shared!: Redis;
  operatorToken = '';
  relayPort = 0;

  private constructor(
    readonly options: ChaosRigOptions,
    stack: BenchStack,
  ) {
    this.stack = stack;
  }

  static async start(options: ChaosRigOptions): Promise<ChaosRig> {
    const stack = await BenchStack.create({
      dataDir: options.dataDir,
      ports: 'auto',
      ...(options.external ? { external: options.external } : {}),
      scryptLogN: 10,
      edgeProcesses: 2,
      log: options.log,
    });
    const rig = new ChaosRig(options, stack);
    try {
      await rig.#start();
    } catch (err) {
      await rig.stop();
      throw err;
    }
    return rig;
  }

  get edgeUrl(): string {
    return this.stack.edgeUrl;
  }

  async #start(): Promise<void> {
    const o = this.options;
    await this.stack.start(false);
    this.shared = new Redis(this.stack.redisUrl, { maxRetriesPerRequest: 2 });
    this.shared.on('error', () => {});
    const binary = ensureSystemPackages({ kafka: false, log: o.log }).redisServer;
    for (const id of ['s0', 's1']) {
      const port = await freePort();
      const dir = join(o.dataDir, 'shards', id);
      mkdirSync(dir, { recursive: true });
      const shard = new Shard(
        id,
        new RedisServer(binary, dir, port, o.appendFsync),
        port,
        join(dir, 'redis', 'redis.pid'),
      );
      await shard.server.start();
      this.shards.push(shard);
    }
    // The shipped local map's pool settings, on a map of our own over the two shards.
    const pools = loadCellMap(LOCAL_CELL_MAP_PATH, { env: false }).cells[0]!.pools;
    this.map = generateMap({
      cells: o.cells,
      shards: 2,
      name: 'chaos',
      pools: {
        flashSale: { ...pools.flashSale },
        inventory: { ...pools.inventory },
        fraud: { ...pools.fraud },
      },
      redis: (i) => ({ url: this.shards[i]!.url }),
      postgres: () => this.stack.databaseUrl,
    });
    writeFileSync(this.stack.mapFile, serializeCellMap(this.map));
    this.relayPort = await freePort();
    Object.assign(this.stack.env, {
      TITAN_BUS: 'redis',
      TITAN_BUS_REDIS_URL: this.stack.redisUrl,
      TITAN_RELAY_PORT: String(this.relayPort),
      TITAN_EDGE_USER_RATE: '100000',
      TITAN_EDGE_USER_BURST: '100000',
      TITAN_CHAOS_HOOKS: 'true',
      // Faults make in-flight work fail fast enough for clients to retry within a run.
      TITAN_SHUTDOWN_TIMEOUT_MS: '3000',
    });
    await Promise.all([
      this.stack.spawn('auth', 'services/auth/main.ts', this.stack.ports.auth),
      this.stack.spawn('flash-sale', 'services/flash-sale/main.ts', this.stack.ports.flashSale),
      this.startRelay(),
      this.stack.spawn('edge', 'edge/main.ts', this.stack.ports.edge),
    ]);
    await waitFor('both edge processes', async () => this.edgePids().length === 2, 60_000);
    const login = await fetch(`${this.stack.authUrl}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(OPERATOR),
    });
    if (login.status !== 200) throw new Error(`operator login failed: ${login.status}`);
    this.operatorToken = ((await login.json()) as { accessToken: string }).accessToken;
  }

  startRelay(): Promise<BenchProcess> {
    return this.stack.spawn('relay', 'services/events/relay-main.ts', this.relayPort);
  }

  /** The edge processes: the supervisor's children running the edge (not tsx's esbuild service, say). */
  edgePids(): number[] {
    return childPidsRunning(this.stack.pid('edge'), 'edge/main.ts');
  }

  /** Cells whose data lives on `shard`. */
  cellsOn(shard: string): number[] {
    return this.map.cells.filter((c) => c.shard === shard).map((c) => c.id);
  }

  shardOfCell(cell: number): Shard {
    const id = this.map.cells.find((c) => c.id === cell)?.shard;
    const shard = this.shards.find((s) => s.id === id);
    if (!shard) throw new Error(`no shard for cell ${cell}`);
    return shard;
  }

  /** Reads the map the edge writes after admin operations (failover bumps its version). */
  reloadMap(): CellMap {
    this.map = loadCellMap(this.stack.mapFile, { env: false });
    return this.map;
  }

  async stop(): Promise<void> {
    await this.stack.stop().catch((err) => this.options.log(`stopping processes: ${err}`));
    this.shared?.disconnect();
    for (const s of this.shards) {
      s.client.disconnect();
      await s.server.stop().catch(() => {});
    }
  }
}
