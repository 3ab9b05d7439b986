/**
 * A project-private Redis Cluster: 3 masters with one replica each, six `redis-server --cluster-enabled yes`
 * processes on six consecutive ports (each also listens on its cluster bus port, port + 10000), bound to
 * loopback, with AOF on. Node `<port>` keeps its AOF, nodes.conf, pid file and log in
 * `<dataDir>/redis-cluster/<port>`. The cluster is created once with `redis-cli --cluster create`; a restart
 * reuses the nodes.conf files, so the same cluster (node ids, slots, roles) comes back without re-creating it.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { StackErrors } from './errors.ts';
import { livePidFrom, pidAlive, portBindable, portOpen, runAsync, waitFor } from './os-tools.ts';
import type { ServerStatus, StackServer } from './server.ts';

export const CLUSTER_MASTERS = 3;
export const CLUSTER_NODES = CLUSTER_MASTERS * 2;
/** Redis Cluster's fixed distance between a node's client port and its cluster bus port. */
export const CLUSTER_BUS_OFFSET = 10_000;
/** The highest base port whose six nodes' bus ports still exist (<= 65535). */
export const MAX_CLUSTER_BASE_PORT = 65_535 - CLUSTER_BUS_OFFSET - (CLUSTER_NODES - 1);

export interface RedisClusterOptions {
  appendFsync?: 'always' | 'everysec' | 'no';
  /** cluster-node-timeout: how long a silent master stays up before its replica takes over. Default 2000. */
  nodeTimeoutMs?: number;
  /** The setting(s) that choose the base port, named when a port is taken. */
  portSetting?: string;
  log?: (msg: string) => void;
}

export interface RedisClusterBinaries {
  redisServer: string;
  redisCli: string;
}

/** CLUSTER INFO as key -> value. */
export type ClusterInfo = Readonly<Record<string, string>>;

export class RedisCluster implements StackServer {
  readonly name = 'redis-cluster';
  readonly #root: string;

  constructor(
    private readonly bins: RedisClusterBinaries,
    dataDir: string,
    private readonly basePort: number,
    private readonly options: RedisClusterOptions = {},
  ) {
    if (!Number.isInteger(basePort) || basePort < 1 || basePort > MAX_CLUSTER_BASE_PORT) {
      throw StackErrors.STACK_START_FAILED(
        `Redis Cluster base port ${basePort} must be 1..${MAX_CLUSTER_BASE_PORT} (its nodes use ${CLUSTER_NODES} ports from it, and each node also port + ${CLUSTER_BUS_OFFSET})`,
      );
    }
    this.#root = join(dataDir, 'redis-cluster');
  }

  /** The six nodes' client ports. */
  get ports(): number[] {
    return Array.from({ length: CLUSTER_NODES }, (_, i) => this.basePort + i);
  }

  /** Seed URLs for a cluster client (every node: any one that answers is enough to discover the rest). */
  seeds(): string[] {
    return this.ports.map((p) => `redis://127.0.0.1:${p}`);
  }

  /** The seeds joined by commas, as `TITAN_REDIS_CLUSTER_SEEDS` carries them. */
  get url(): string {
    return this.seeds().join(',');
  }

  #dir(port: number): string {
    return join(this.#root, String(port));
  }

  /** The pid of the node on `port`, when it runs (fault injection kills it). */
  pidOf(port: number): number | undefined {
    return livePidFrom(this.#pidFile(port));
  }

  #pidFile(port: number): string {
    return join(this.#dir(port), 'redis.pid');
  }

  async start(): Promise<void> {
    // Check every port first, so a taken one is reported before any node is started.
    const missing: number[] = [];
    for (const port of this.ports) {
      if (livePidFrom(this.#pidFile(port)) !== undefined && (await portOpen(port))) continue;
      await this.#checkFree(port);
      missing.push(port);
    }
    for (const port of missing) await this.#startNode(port);
    const infos = await Promise.all(this.ports.map((p) => this.info(p)));
    if (infos.every((i) => i.cluster_slots_assigned === '0' && i.cluster_known_nodes === '1')) {
      await this.#create();
    } else if (!infos.some((i) => i.cluster_slots_assigned === '16384')) {
      // Some node knows slots but none knows them all: a creation interrupted half-way or nodes of another
      // cluster. (A node just restarted into a formed cluster may answer before it has caught up: the wait
      // below covers it.)
      const state = infos
        .map((i, n) => `${this.ports[n]}: ${i.cluster_slots_assigned ?? '?'} slots`)
        .join(', ');
      throw StackErrors.STACK_START_FAILED(
        `Redis Cluster under ${this.#root} is half-formed (${state}); wipe it (npm run stack reset) and start again`,
      );
    }
    await waitFor(
      `Redis Cluster on ports ${this.basePort}-${this.basePort + CLUSTER_NODES - 1} to report cluster_state:ok with every replica in sync (logs in ${this.#root})`,
      () => this.#ready(),
      60_000,
    );
  }

  /** Every node sees the whole cluster ok, and each of the 3 masters has a replica whose link is up. */
  async #ready(): Promise<boolean> {
    for (const p of this.ports) {
      const i = await this.info(p);
      if (i.cluster_state !== 'ok' || i.cluster_known_nodes !== String(CLUSTER_NODES)) return false;
    }
    const nodes = (await this.#cli(this.basePort, ['CLUSTER', 'NODES'])) ?? '';
    const replicaPorts = nodes
      .split('\n')
      .map((line) => line.split(' '))
      .filter((f) => f[2]?.split(',').includes('slave') && f[3] !== '-' && f[7] === 'connected')
      .map((f) => Number(f[1]?.split(/[:@]/)[1]));
    if (replicaPorts.length !== CLUSTER_MASTERS) return false;
    const links = await Promise.all(replicaPorts.map((p) => this.#cli(p, ['INFO', 'replication'])));
    return links.every((text) => (text ?? '').includes('master_link_status:up'));
  }

  /** Probes run without blocking: a process may poll the cluster while it serves traffic on it. */
  async #cli(port: number, args: readonly string[]): Promise<string | undefined> {
    const r = await runAsync(this.bins.redisCli, ['-h', '127.0.0.1', '-p', String(port), ...args]);
    return r.status === 0 ? r.stdout : undefined;
  }

  async #checkFree(port: number): Promise<void> {
    const setting = this.options.portSetting ?? 'TITAN_REDIS_CLUSTER_PORT';
    for (const p of [port, port + CLUSTER_BUS_OFFSET]) {
      if (!(await portBindable(p))) {
        throw StackErrors.STACK_PORT_IN_USE(
          `Port ${p} is in use by another process; stop it or choose another base port for the Redis Cluster (${setting}; it uses ${CLUSTER_NODES} ports from it and each one + ${CLUSTER_BUS_OFFSET}).`,
        );
      }
    }
  }

  async #startNode(port: number): Promise<void> {
    const pidFile = this.#pidFile(port);
    const dir = this.#dir(port);
    mkdirSync(dir, { recursive: true });
    const log = join(dir, 'redis.log');
    const r = await runAsync(this.bins.redisServer, [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      String(this.options.nodeTimeoutMs ?? 2000),
      // a dead master's slots fail alone while its replica takes over; the other masters keep serving theirs
      '--cluster-require-full-coverage',
      'no',
      // a replica syncs at once instead of the master waiting 5 s for more replicas to share one transfer
      '--repl-diskless-sync-delay',
      '0',
      '--appendonly',
      'yes',
      '--appendfsync',
      this.options.appendFsync ?? 'everysec',
      '--save',
      '',
      '--daemonize',
      'yes',
      '--pidfile',
      pidFile,
      '--logfile',
      log,
    ]);
    if (r.status !== 0)
      throw StackErrors.STACK_START_FAILED(`redis-server (cluster node ${port}): ${r.stderr || r.stdout}`);
    await waitFor(`Redis Cluster node on port ${port} (log: ${log})`, () => portOpen(port), 15_000);
  }

  async #create(): Promise<void> {
    this.options.log?.(
      `creating Redis Cluster: ${CLUSTER_MASTERS} masters + ${CLUSTER_MASTERS} replicas on ports ${this.basePort}-${this.basePort + CLUSTER_NODES - 1}`,
    );
    const r = await runAsync(this.bins.redisCli, [
      '--cluster',
      'create',
      ...this.ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    if (r.status !== 0) {
      throw StackErrors.STACK_START_FAILED(
        `redis-cli --cluster create: ${(r.stderr || r.stdout).trim().slice(-2000)}`,
      );
    }
  }

  /** CLUSTER INFO of the node on `port` (empty when it does not answer). */
  async info(port: number): Promise<ClusterInfo> {
    const text = await this.#cli(port, ['CLUSTER', 'INFO']);
    if (text === undefined) return {};
    const out: Record<string, string> = {};
    for (const line of text.split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
    }
    return out;
  }

  /** Live pids of the nodes under the data dir, whatever base port they were started with. */
  #livePids(): number[] {
    if (!existsSync(this.#root)) return [];
    return readdirSync(this.#root)
      .map((entry) => livePidFrom(join(this.#root, entry, 'redis.pid')))
      .filter((pid): pid is number => pid !== undefined);
  }

  async stop(): Promise<void> {
    const pids = this.#livePids();
    for (const pid of pids) process.kill(pid, 'SIGTERM'); // each node flushes its AOF and exits
    await waitFor('Redis Cluster nodes to exit', () => pids.every((pid) => !pidAlive(pid)), 15_000);
  }

  async status(): Promise<ServerStatus> {
    const alive = await Promise.all(
      this.ports.map(async (p) => livePidFrom(this.#pidFile(p)) !== undefined && (await portOpen(p))),
    );
    const up = alive.filter(Boolean).length;
    if (up === 0) return { name: this.name, running: false };
    const state = (await this.info(this.ports[alive.indexOf(true)]!)).cluster_state ?? 'unknown';
    return {
      name: this.name,
      running: up === CLUSTER_NODES && state === 'ok',
      pid: livePidFrom(this.#pidFile(this.ports[alive.indexOf(true)]!)),
      address: this.url,
      detail: `cluster_state:${state}, ${up}/${CLUSTER_NODES} nodes up`,
    };
  }
}
