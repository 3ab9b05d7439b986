/**
 * The local stack: project-private Redis, PostgreSQL and (optionally) a Kafka-protocol broker and a Redis
 * Cluster (`redisMode: 'cluster'`: beside the single Redis, which keeps serving the bus and everything off
 * the cells' hot path) under one data directory. Starting twice is harmless; data survives stop and start;
 * `reset` wipes it.
 * The connection details of a running stack are written to `<dataDir>/stack.json`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackErrors } from './errors.ts';
import { KafkaBroker } from './kafka-broker.ts';
import { PostgresServer } from './postgres-server.ts';
import { RedisCluster } from './redis-cluster.ts';
import { RedisServer } from './redis-server.ts';
import type { ServerStatus } from './server.ts';
import type { StackSettings } from './settings.ts';
import { ensureSystemPackages } from './system-packages.ts';

export interface StackInfo {
  label: string;
  dataDir: string;
  redisUrl: string;
  databaseUrl: string;
  adminDatabaseUrl: string;
  kafkaBrokers: string[] | null;
  /** Seed URLs of the Redis Cluster (cluster mode), else null. */
  redisClusterSeeds: string[] | null;
}

export class LocalStack {
  readonly #log: (msg: string) => void;

  constructor(
    readonly settings: StackSettings,
    log?: (msg: string) => void,
  ) {
    this.#log = log ?? ((msg) => process.stderr.write(`[stack:${settings.label}] ${msg}\n`));
  }

  get #stateFile(): string {
    return join(this.settings.dataDir, 'stack.json');
  }

  #servers() {
    const s = this.settings;
    const bins = ensureSystemPackages({ kafka: s.kafka, log: this.#log });
    const redis = new RedisServer(bins.redisServer, s.dataDir, s.redisPort, s.redisAppendFsync ?? 'everysec');
    const postgres = new PostgresServer(bins.pgBin, s.dataDir, s.pgPort, this.#log);
    const kafka = s.kafka ? new KafkaBroker(bins.gcc, s.dataDir, s.kafkaBrokers) : undefined;
    const cluster = s.redisMode === 'cluster' ? this.#cluster(bins) : undefined;
    return { redis, postgres, kafka, cluster };
  }

  /** The Redis Cluster of this data dir; `bins` may be omitted to stop or inspect it. */
  #cluster(
    bins: { redisServer: string; redisCli: string } = { redisServer: 'redis-server', redisCli: 'redis-cli' },
  ) {
    const s = this.settings;
    return new RedisCluster(bins, s.dataDir, s.redisClusterPort ?? 17000, {
      appendFsync: s.redisAppendFsync ?? 'everysec',
      portSetting: s.redisClusterPortSetting ?? 'TITAN_REDIS_CLUSTER_PORT',
      log: this.#log,
    });
  }

  async start(): Promise<StackInfo> {
    mkdirSync(this.settings.dataDir, { recursive: true, mode: 0o755 });
    const { redis, postgres, kafka, cluster } = this.#servers();
    await redis.start();
    await cluster?.start();
    await postgres.start();
    await kafka?.start();
    const info: StackInfo = {
      label: this.settings.label,
      dataDir: this.settings.dataDir,
      redisUrl: redis.url,
      databaseUrl: postgres.url,
      adminDatabaseUrl: postgres.adminUrl,
      kafkaBrokers: kafka?.bootstrap() ?? null,
      redisClusterSeeds: cluster?.seeds() ?? null,
    };
    writeFileSync(this.#stateFile, `${JSON.stringify(info, null, 2)}\n`);
    this.#log(
      `up: redis ${info.redisUrl}, postgres ${info.databaseUrl}` +
        (info.redisClusterSeeds ? `, redis cluster ${info.redisClusterSeeds.join(',')}` : '') +
        (info.kafkaBrokers ? `, kafka ${info.kafkaBrokers.join(',')}` : ''),
    );
    return info;
  }

  async stop(): Promise<void> {
    if (!existsSync(this.settings.dataDir)) return;
    const { redis, postgres, kafka, cluster } = this.#servers();
    // Stop everything we can even when one part fails, then report the first failure. A cluster (or broker)
    // left by a start with other settings is stopped too: both find their processes from the data dir.
    const results = await Promise.allSettled([
      kafka?.stop() ?? new KafkaBroker(undefined, this.settings.dataDir, 1).stop(),
      postgres.stop(),
      redis.stop(),
      (cluster ?? this.#cluster()).stop(),
    ]);
    rmSync(this.#stateFile, { force: true });
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    this.#log('stopped');
  }

  async status(): Promise<ServerStatus[]> {
    const { redis, postgres, cluster } = this.#servers();
    const kafka = new KafkaBroker(undefined, this.settings.dataDir, this.settings.kafkaBrokers);
    return Promise.all([
      redis.status(),
      ...(cluster ? [cluster.status()] : []),
      postgres.status(),
      kafka.status(),
    ]);
  }

  async reset(): Promise<void> {
    await this.stop();
    rmSync(this.settings.dataDir, { recursive: true, force: true });
    this.#log(`wiped ${this.settings.dataDir}`);
  }

  /** The running stack's connection details, or STACK_NOT_RUNNING. */
  info(): StackInfo {
    if (!existsSync(this.#stateFile)) {
      throw StackErrors.STACK_NOT_RUNNING(
        `No running stack under ${this.settings.dataDir}; run: npm run stack start`,
      );
    }
    return JSON.parse(readFileSync(this.#stateFile, 'utf8')) as StackInfo;
  }
}

/** The environment every Titan process reads its connections from. */
export function stackEnv(info: StackInfo): Record<string, string> {
  const env: Record<string, string> = {
    TITAN_REDIS_URL: info.redisUrl,
    TITAN_DATABASE_URL: info.databaseUrl,
    TITAN_PG_ADMIN_URL: info.adminDatabaseUrl,
  };
  if (info.kafkaBrokers) env.TITAN_KAFKA_BROKERS = info.kafkaBrokers.join(',');
  if (info.redisClusterSeeds) env.TITAN_REDIS_CLUSTER_SEEDS = info.redisClusterSeeds.join(',');
  return env;
}
