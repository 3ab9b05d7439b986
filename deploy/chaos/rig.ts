/**
 * The chaos rig: the platform as it runs in production, in separate processes that faults can hit.
 *
 * - PostgreSQL and a "shared" Redis (auth's rate limits, the Redis Streams bus) come from the bench stack
 *   (its own servers, or the test stack's when given `external` URLs).
 * - Two hot-path shards, each its own `redis-server` with AOF (fsync policy per run) on free ports, so a
 *   fault can kill -9 or stop one without touching anything else. With `clusterShard`, the second shard is
 *   a Redis Cluster of its own instead (3 masters + 3 replicas), for master kills behind the edge.
 * - A cell map of `cells` cells spread over the two shards (each cell backed by a cell on the other shard).
 * - Processes: auth, flash-sale (control plane + sweeper), the events relay, and the edge supervisor with
 *   two edge processes sharing the port (`TITAN_CHAOS_HOOKS=1`: SIGUSR2 kills a worker thread).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Cluster, Redis } from 'ioredis';
import {
  type CellMap,
  generateMap,
  LOCAL_CELL_MAP_PATH,
  loadCellMap,
  openShardRedis,
  type RedisEndpoint,
  serializeCellMap,
  slotOf,
} from '../../cells/index.ts';
import { masterPortOfSlot } from '../../lua/test-support.ts';
import { type BenchProcess, BenchStack, OPERATOR } from '../../native-bench/lib/stack.ts';
import { childPidsRunning, freePort, freePortBlock, waitFor } from '../local/os-tools.ts';
import { CLUSTER_BUS_OFFSET, CLUSTER_NODES, RedisCluster } from '../local/redis-cluster.ts';
import { RedisServer } from '../local/redis-server.ts';
import { ensureSystemPackages } from '../local/system-packages.ts';

export type AppendFsync = 'always' | 'everysec';

export interface ChaosRigOptions {
  dataDir: string;
  /** Use this Redis (shared role) and database instead of starting servers (the short version in npm test). */
  external?: { redisUrl: string; databaseUrl: string };
  cells: number;
  appendFsync: AppendFsync;
  /** Shard s1 is a Redis Cluster (3 masters + 3 replicas) instead of a single server. */
  clusterShard?: boolean;
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
  get endpoint(): RedisEndpoint {
    return { url: this.server.url };
  }
}

/** A shard that is a Redis Cluster of its own: faults kill one of its masters. */
export class ClusterShard {
  readonly client: Cluster;
  constructor(
    readonly id: string,
    readonly cluster: RedisCluster,
  ) {
    // The options the platform's shard clients use, with a longer command timeout: the checks read a lot.
    this.client = openShardRedis(this.endpoint, { redis: { commandTimeout: 10_000 } }) as Cluster;
    this.client.on('error', () => {});
  }
  get endpoint(): RedisEndpoint {
    return { cluster: this.cluster.seeds() };
  }

  /** The port of the master serving cell `cell`'s hash tag, as the cluster itself reports it now. */
  masterPortOf(cell: number): Promise<number> {
    return masterPortOfSlot(this.client, slotOf(`c${cell}`));
  }
}

export type RigShard = Shard | ClusterShard;

export class ChaosRig {
  readonly stack: BenchStack;
  readonly shards: RigShard[] = [];
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
    const bins = ensureSystemPackages({ kafka: false, log: o.log });
    const binary = bins.redisServer;
    for (const id of ['s0', 's1']) {
      if (id === 's1' && o.clusterShard) {
        const dir = join(o.dataDir, 'shards', id);
        const base = await freePortBlock(CLUSTER_NODES, { alsoOffsets: [CLUSTER_BUS_OFFSET] });
        const cluster = new RedisCluster({ redisServer: binary, redisCli: bins.redisCli }, dir, base, {
          appendFsync: o.appendFsync,
          log: o.log,
        });
        await cluster.start();
        this.shards.push(new ClusterShard(id, cluster));
        continue;
      }
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
      redis: (i) => this.shards[i]!.endpoint,
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

  shardOfCell(cell: number): RigShard {
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
      await (s instanceof Shard ? s.server : s.cluster).stop().catch(() => {});
    }
  }
}
