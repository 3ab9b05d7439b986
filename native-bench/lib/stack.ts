/**
 * The bench stack: Redis + PostgreSQL of its own (deploy/local's LocalStack with the bench's data dir and
 * ports, never the dev or test stack's), the platform processes the hot path needs (auth, flash-sale, edge),
 * the Fastify peer and the uWS hello-world ceiling, each a separate process so its CPU can be measured and
 * the load generator never shares its event loop. With `external` URLs (the smoke test) it uses a Redis and
 * a database it is given instead of starting servers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_CELL_MAP_PATH } from '../../cells/index.ts';
import { waitFor } from '../../deploy/local/os-tools.ts';
import { localSecrets } from '../../deploy/local/secrets.ts';
import { LocalStack } from '../../deploy/local/stack.ts';
import { seedBootstrapAdmin } from '../../services/auth/index.ts';
import { createPool, migrate } from '../../services/kit/index.ts';
import { SERVICES } from '../../services/registry.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BenchStackOptions {
  dataDir: string;
  /** Fixed ports (the bench stack's 28xxx, below the ephemeral range so no client socket holds one) or `auto` (free ports, for the smoke test). */
  ports: 'fixed' | 'auto';
  /** Use this Redis and database instead of starting a stack. */
  external?: { redisUrl: string; databaseUrl: string };
  /** scrypt cost of the bench's auth service: low, so thousands of users register quickly (bench only). */
  scryptLogN: number;
  edgeProcesses: number;
  /** Write V8 CPU profiles of the edge and the peer (every thread) into this directory. */
  cpuProfileDir?: string;
  log: (msg: string) => void;
}

export interface BenchProcess {
  name: string;
  port: number;
  pid: number;
  child: ChildProcess;
}

export const OPERATOR = { email: 'bench-operator@titan.local', password: 'bench-operator-password' };

const FIXED_PORTS = {
  redis: 28379,
  postgres: 28432,
  relay: 28105,
  user: 28102,
  auth: 28101,
  catalog: 28103,
  flashSale: 28104,
  edge: 28080,
  peer: 28090,
  hello: 28091,
};

/** The bench port of each platform service (services/registry.ts names). */
const SERVICE_PORT: Record<string, keyof typeof FIXED_PORTS> = {
  events: 'relay',
  user: 'user',
  auth: 'auth',
  catalog: 'catalog',
  'flash-sale': 'flashSale',
};

/** Processes `--cpu-prof` profiles: the front servers and the outbox relay (its CPU is part of each purchase). */
export const PROFILED = ['edge', 'peer', 'events'];

/** The platform's processes as `npm start` runs them (deploy/local/platform.ts): every service, then the edge. */
export const PLATFORM_PROCESSES = [...SERVICES.filter((s) => s.entry && s.port).map((s) => s.name), 'edge'];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export class BenchStack {
  readonly processes = new Map<string, BenchProcess>();
  readonly ports: typeof FIXED_PORTS;
  redisUrl = '';
  databaseUrl = '';
  redisPid: number | undefined;
  postgresPid: number | undefined;
  mapFile = '';
  env: Record<string, string> = {};
  #stack: LocalStack | undefined;

  private constructor(
    readonly options: BenchStackOptions,
    ports: typeof FIXED_PORTS,
  ) {
    this.ports = ports;
  }

  static async create(options: BenchStackOptions): Promise<BenchStack> {
    const ports = { ...FIXED_PORTS };
    if (options.ports === 'auto') {
      // The OS may hand the same free port out twice in a row; uWS listens with SO_REUSEPORT, so two of our
      // servers would then share it silently.
      const taken = new Set<number>();
      for (const k of Object.keys(ports) as (keyof typeof FIXED_PORTS)[]) {
        let port = await freePort();
        while (taken.has(port)) port = await freePort();
        taken.add(port);
        ports[k] = port;
      }
    }
    return new BenchStack(options, ports);
  }

  get edgeUrl(): string {
    return `http://127.0.0.1:${this.ports.edge}`;
  }
  get peerUrl(): string {
    return `http://127.0.0.1:${this.ports.peer}`;
  }
  get helloUrl(): string {
    return `http://127.0.0.1:${this.ports.hello}`;
  }
  get authUrl(): string {
    return `http://127.0.0.1:${this.ports.auth}`;
  }

  /** Servers, migrations, the operator account, the cell map, then every process, ready. */
  async start(processes = true): Promise<void> {
    const o = this.options;
    mkdirSync(join(o.dataDir, 'logs'), { recursive: true });
    if (o.external) {
      this.redisUrl = o.external.redisUrl;
      this.databaseUrl = o.external.databaseUrl;
    } else {
      this.#stack = new LocalStack(
        {
          dataDir: o.dataDir,
          redisPort: this.ports.redis,
          pgPort: this.ports.postgres,
          kafka: false,
          kafkaBrokers: 1,
          label: 'bench',
        },
        (m) => o.log(`stack: ${m}`),
      );
      const info = await this.#stack.start();
      this.redisUrl = info.redisUrl;
      this.databaseUrl = info.databaseUrl;
      const status = await this.#stack.status();
      this.redisPid = status.find((s) => s.name === 'redis')?.pid;
      this.postgresPid = status.find((s) => s.name === 'postgres')?.pid;
    }
    const secrets = localSecrets(o.dataDir);
    const jwks = `${this.authUrl}/v1/auth/jwks`;
    this.env = {
      ...secrets,
      TITAN_REDIS_URL: this.redisUrl,
      TITAN_DATABASE_URL: this.databaseUrl,
      TITAN_LOG_LEVEL: process.env.TITAN_BENCH_LOG_LEVEL ?? 'warn',
      TITAN_SCRYPT_LOG_N: String(o.scryptLogN),
      TITAN_ACCESS_TOKEN_TTL_S: '3600',
      TITAN_LOGIN_MAX_FAILURES_PER_IP: '100000',
      TITAN_BOOTSTRAP_ADMIN_EMAIL: OPERATOR.email,
      TITAN_BOOTSTRAP_ADMIN_PASSWORD: OPERATOR.password,
      ...this.#serviceUrls(),
      TITAN_AUTH_JWKS_URL: jwks,
      TITAN_EDGE_PORT: String(this.ports.edge),
      TITAN_EDGE_HOST: '127.0.0.1',
      TITAN_EDGE_PROCESSES: String(o.edgeProcesses),
      // Every bench request comes from 127.0.0.1: the per-IP bucket would otherwise cap the whole run.
      TITAN_EDGE_IP_RATE: '1000000',
      TITAN_EDGE_IP_BURST: '1000000',
      TITAN_EDGE_AUTH_ATTEMPTS_PER_MINUTE: '100000',
      TITAN_BENCH_PEER_PORT: String(this.ports.peer),
      TITAN_BENCH_HELLO_PORT: String(this.ports.hello),
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    };
    // The shipped local map (4 cells, its pool settings), copied so `tune` can write new versions of it.
    this.mapFile = join(o.dataDir, 'cells.json');
    copyFileSync(LOCAL_CELL_MAP_PATH, this.mapFile);
    this.env.TITAN_CELL_MAP = this.mapFile;

    const pool = createPool(this.databaseUrl, { max: 2, name: 'bench' });
    try {
      for (const s of SERVICES) await migrate(pool, s.name, s.migrations);
      await seedBootstrapAdmin(pool, { ...process.env, ...this.env });
    } finally {
      await pool.end();
    }
    if (!processes) return;
    // Nothing here needs another process at start (JWKS and sale snapshots are fetched lazily): all at once.
    // Every service `npm start` runs is running here too (the outbox relay included): the bench measures
    // the platform as it runs, background work and all.
    await Promise.all([
      ...SERVICES.filter((svc) => svc.entry && svc.port).map((svc) => {
        const key = SERVICE_PORT[svc.name];
        if (key === undefined)
          throw new Error(`service ${svc.name} has no bench port: add it to SERVICE_PORT`);
        return this.spawn(svc.name, svc.entry!, this.ports[key]);
      }),
      this.spawn('hello', 'native-bench/peers/uws-hello.ts', this.ports.hello),
      this.spawn('peer', 'native-bench/peers/fastify-purchase.ts', this.ports.peer),
      this.spawn('edge', 'edge/main.ts', this.ports.edge),
    ]);
  }

  /** Each service's port variable and URL, as deploy/local/platform.ts sets them, on the bench ports. */
  #serviceUrls(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const svc of SERVICES) {
      const key = SERVICE_PORT[svc.name];
      if (!svc.port || key === undefined) continue;
      const port = this.ports[key];
      out[svc.port.env] = String(port);
      out[`TITAN_${svc.name.toUpperCase().replaceAll('-', '_')}_URL`] = `http://127.0.0.1:${port}`;
    }
    return out;
  }

  async spawn(name: string, entry: string, port: number): Promise<BenchProcess> {
    const logFile = join(this.options.dataDir, 'logs', `${name}.log`);
    const fd = openSync(logFile, 'a');
    const prof =
      this.options.cpuProfileDir && PROFILED.includes(name)
        ? ['--cpu-prof', '--cpu-prof-dir', join(this.options.cpuProfileDir, name)]
        : [];
    const child = spawn(process.execPath, ['--import', 'tsx', ...prof, entry], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      // The IPC channel lets the child notice when the runner dies, so none is left behind.
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    const p: BenchProcess = { name, port, pid: child.pid!, child };
    this.processes.set(name, p);
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    await waitFor(
      `${name} to be ready on port ${port} (log: ${logFile})`,
      async () => {
        if (exited) throw new Error(`${name} exited during start; see ${logFile}`);
        const r = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
        return r?.ok === true;
      },
      60_000,
    );
    return p;
  }

  /** Restarts one process (same entry, env and port), e.g. the edge after a map change that needs it. */
  async restart(name: string, entry: string): Promise<BenchProcess> {
    const p = this.processes.get(name);
    if (p) await stopChild(p.child);
    return this.spawn(name, entry, p?.port ?? 0);
  }

  pid(name: string): number {
    const p = this.processes.get(name);
    if (!p) throw new Error(`no bench process ${name}`);
    return p.pid;
  }

  async stop(keepServers = false): Promise<void> {
    await Promise.all([...this.processes.values()].map((p) => stopChild(p.child)));
    this.processes.clear();
    if (this.#stack && !keepServers) await this.#stack.stop();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
