/**
 * The local stack: project-private Redis, PostgreSQL and (optionally) a Kafka-protocol broker under
 * one data directory. Starting twice is harmless; data survives stop and start; `reset` wipes it.
 * The connection details of a running stack are written to `<dataDir>/stack.json`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackErrors } from './errors.ts';
import { KafkaBroker } from './kafka-broker.ts';
import { PostgresServer } from './postgres-server.ts';
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
    const redis = new RedisServer(bins.redisServer, s.dataDir, s.redisPort);
    const postgres = new PostgresServer(bins.pgBin, s.dataDir, s.pgPort, this.#log);
    const kafka = s.kafka ? new KafkaBroker(bins.gcc, s.dataDir, s.kafkaBrokers) : undefined;
    return { redis, postgres, kafka };
  }

  async start(): Promise<StackInfo> {
    mkdirSync(this.settings.dataDir, { recursive: true, mode: 0o755 });
    const { redis, postgres, kafka } = this.#servers();
    await redis.start();
    await postgres.start();
    await kafka?.start();
    const info: StackInfo = {
      label: this.settings.label,
      dataDir: this.settings.dataDir,
      redisUrl: redis.url,
      databaseUrl: postgres.url,
      adminDatabaseUrl: postgres.adminUrl,
      kafkaBrokers: kafka?.bootstrap() ?? null,
    };
    writeFileSync(this.#stateFile, `${JSON.stringify(info, null, 2)}\n`);
    this.#log(
      `up: redis ${info.redisUrl}, postgres ${info.databaseUrl}` +
        (info.kafkaBrokers ? `, kafka ${info.kafkaBrokers.join(',')}` : ''),
    );
    return info;
  }

  async stop(): Promise<void> {
    if (!existsSync(this.settings.dataDir)) return;
    const { redis, postgres, kafka } = this.#servers();
    // Stop everything we can even when one part fails, then report the first failure.
    const results = await Promise.allSettled([
      kafka?.stop() ?? new KafkaBroker(undefined, this.settings.dataDir, 1).stop(),
      postgres.stop(),
      redis.stop(),
    ]);
    rmSync(this.#stateFile, { force: true });
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    this.#log('stopped');
  }

  async status(): Promise<ServerStatus[]> {
    const { redis, postgres } = this.#servers();
    const kafka = new KafkaBroker(undefined, this.settings.dataDir, this.settings.kafkaBrokers);
    return Promise.all([redis.status(), postgres.status(), kafka.status()]);
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
  return env;
}
