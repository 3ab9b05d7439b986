/**
 * A Kafka-protocol broker for local runs and tests: librdkafka's mock cluster, through a tiny C
 * launcher (kafka-mock.c) compiled on first use. It keeps everything in memory, and picks new ports
 * on every start: read the bootstrap addresses from the stack's state, never hard-code them.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackErrors } from './errors.ts';
import { livePidFrom, pidAlive, run, waitFor } from './os-tools.ts';
import type { ServerStatus, StackServer } from './server.ts';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'kafka-mock.c');

export class KafkaBroker implements StackServer {
  readonly name = 'kafka';
  readonly #dir: string;
  readonly #binary: string;
  readonly #pidFile: string;
  readonly #bootstrapFile: string;

  constructor(
    private readonly gcc: string | undefined,
    dataDir: string,
    private readonly brokers: number,
  ) {
    this.#dir = join(dataDir, 'kafka');
    this.#binary = join(dataDir, 'bin', 'kafka-mock');
    this.#pidFile = join(this.#dir, 'kafka-mock.pid');
    this.#bootstrapFile = join(this.#dir, 'bootstrap');
  }

  /** Bootstrap addresses of the running cluster, or undefined when it is not running. */
  bootstrap(): string[] | undefined {
    if (livePidFrom(this.#pidFile) === undefined || !existsSync(this.#bootstrapFile)) return undefined;
    return readFileSync(this.#bootstrapFile, 'utf8').trim().split(',').filter(Boolean);
  }

  #build(): void {
    if (existsSync(this.#binary) && statSync(this.#binary).mtimeMs >= statSync(SOURCE).mtimeMs) return;
    if (!this.gcc) throw StackErrors.STACK_MISSING_PACKAGES('gcc is needed to build the Kafka mock launcher');
    mkdirSync(dirname(this.#binary), { recursive: true });
    const r = run(this.gcc, ['-O2', '-o', this.#binary, SOURCE, '-lrdkafka']);
    if (r.status !== 0) throw StackErrors.STACK_START_FAILED(`building kafka-mock: ${r.stderr}`);
  }

  async start(): Promise<void> {
    if (this.bootstrap()) return;
    this.#build();
    mkdirSync(this.#dir, { recursive: true });
    rmSync(this.#bootstrapFile, { force: true });
    const logFd = openSync(join(this.#dir, 'kafka-mock.log'), 'a');
    const child = spawn(this.#binary, [String(this.brokers), this.#bootstrapFile], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    if (child.pid === undefined) throw StackErrors.STACK_START_FAILED('kafka-mock did not start');
    writeFileSync(this.#pidFile, `${child.pid}\n`);
    child.unref();
    await waitFor(
      'the Kafka mock cluster to publish its addresses',
      () => existsSync(this.#bootstrapFile),
      15_000,
    );
  }

  async stop(): Promise<void> {
    const pid = livePidFrom(this.#pidFile);
    if (pid === undefined) return;
    process.kill(pid, 'SIGTERM');
    await waitFor('kafka-mock to exit', () => !pidAlive(pid), 10_000);
    rmSync(this.#bootstrapFile, { force: true });
  }

  async status(): Promise<ServerStatus> {
    const addresses = this.bootstrap();
    const pid = livePidFrom(this.#pidFile);
    return addresses && pid !== undefined
      ? {
          name: this.name,
          running: true,
          pid,
          address: addresses.join(','),
          detail: `${this.brokers} brokers, in memory`,
        }
      : { name: this.name, running: false };
  }
}
