/**
 * A Kafka-protocol broker for local runs and tests: librdkafka's mock cluster, through a tiny C
 * launcher (kafka-mock.c) compiled on first use. It keeps everything in memory, and picks new ports
 * on every start: read the bootstrap addresses from the stack's state, never hard-code them.
 * A running cluster is controlled through the launcher's Unix socket (`kafka/control.sock` in the
 * data dir): take a broker down and up, create a topic with a replication factor, move a leader.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackErrors } from './errors.ts';
import { livePidFrom, pidAlive, run, waitFor } from './os-tools.ts';
import type { ServerStatus, StackServer } from './server.ts';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'kafka-mock.c');
/** sun_path holds 108 bytes with its NUL: a longer data dir path runs the cluster without control. */
const MAX_SOCKET_PATH = 107;

export class KafkaBroker implements StackServer {
  readonly name = 'kafka';
  readonly #dir: string;
  readonly #binary: string;
  readonly #pidFile: string;
  readonly #bootstrapFile: string;
  readonly #controlSocket: string;

  constructor(
    private readonly gcc: string | undefined,
    dataDir: string,
    private readonly brokers: number,
  ) {
    this.#dir = join(dataDir, 'kafka');
    this.#binary = join(dataDir, 'bin', 'kafka-mock');
    this.#pidFile = join(this.#dir, 'kafka-mock.pid');
    this.#bootstrapFile = join(this.#dir, 'bootstrap');
    this.#controlSocket = join(this.#dir, 'control.sock');
  }

  /** The broker of the test stack the test runner started (its data dir is `TITAN_TEST_DATA_DIR`). */
  static ofTestStack(env: NodeJS.ProcessEnv = process.env): KafkaBroker {
    const dataDir = env.TITAN_TEST_DATA_DIR;
    if (!dataDir)
      throw StackErrors.STACK_NOT_RUNNING('TITAN_TEST_DATA_DIR is not set: run tests with `npm test`');
    return new KafkaBroker(undefined, dataDir, 3);
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
    rmSync(this.#controlSocket, { force: true });
    const control = Buffer.byteLength(this.#controlSocket) <= MAX_SOCKET_PATH ? [this.#controlSocket] : [];
    const child = spawn(this.#binary, [String(this.brokers), this.#bootstrapFile, ...control], {
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
    rmSync(this.#controlSocket, { force: true });
  }

  /** Takes broker `id` (1..brokers) down (its connections dropped, new ones refused) or up again. */
  async setBrokerDown(id: number, down: boolean): Promise<void> {
    await this.#control(`${down ? 'down' : 'up'} ${id}`);
  }

  /** Creates a topic with this replication factor (auto-created topics get 4 partitions, min(3, brokers)). */
  async createTopic(topic: string, partitions: number, replicationFactor: number): Promise<void> {
    await this.#control(`topic ${topic} ${partitions} ${replicationFactor}`);
  }

  /** Moves a partition's leadership (the mock never does it itself, not even when its leader is down). */
  async setPartitionLeader(topic: string, partition: number, brokerId: number): Promise<void> {
    await this.#control(`leader ${topic} ${partition} ${brokerId}`);
  }

  #control(command: string): Promise<void> {
    if (!/^[\w.-]+( [\w.-]+)*$/.test(command)) {
      return Promise.reject(StackErrors.STACK_KAFKA_CONTROL_FAILED(`not a valid command: ${command}`));
    }
    if (livePidFrom(this.#pidFile) === undefined || !existsSync(this.#controlSocket)) {
      return Promise.reject(
        StackErrors.STACK_NOT_RUNNING(
          `no running Kafka mock cluster with a control socket in ${this.#dir} (a data dir path over ~90 characters has none)`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      let answer = '';
      const socket = createConnection(this.#controlSocket);
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write(`${command}\n`));
      socket.on('data', (chunk) => {
        answer += chunk;
      });
      socket.on('error', (err) =>
        reject(StackErrors.STACK_KAFKA_CONTROL_FAILED(`${command}: ${err.message}`)),
      );
      socket.on('close', () => {
        const line = answer.trim();
        if (line === 'ok') resolve();
        else reject(StackErrors.STACK_KAFKA_CONTROL_FAILED(`${command}: ${line || 'no answer'}`));
      });
    });
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
