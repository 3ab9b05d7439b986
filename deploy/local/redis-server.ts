/** A project-private Redis: AOF on, bound to loopback, data under the stack's data dir. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { StackErrors } from './errors.ts';
import { livePidFrom, pidAlive, portOpen, run, waitFor } from './os-tools.ts';
import type { ServerStatus, StackServer } from './server.ts';

export class RedisServer implements StackServer {
  readonly name = 'redis';
  readonly #dir: string;
  readonly #pidFile: string;

  constructor(
    private readonly binary: string,
    dataDir: string,
    private readonly port: number,
    private readonly appendFsync: 'always' | 'everysec' | 'no' = 'everysec',
  ) {
    this.#dir = join(dataDir, 'redis');
    this.#pidFile = join(this.#dir, 'redis.pid');
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (livePidFrom(this.#pidFile) !== undefined && (await portOpen(this.port))) return;
    if (await portOpen(this.port)) {
      throw StackErrors.STACK_PORT_IN_USE(
        `Port ${this.port} is in use by another process; stop it or choose another port for Redis (TITAN_REDIS_PORT / TITAN_TEST_REDIS_PORT).`,
      );
    }
    mkdirSync(this.#dir, { recursive: true });
    const r = run(this.binary, [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.#dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      this.appendFsync,
      '--save',
      '',
      '--daemonize',
      'yes',
      '--pidfile',
      this.#pidFile,
      '--logfile',
      join(this.#dir, 'redis.log'),
    ]);
    if (r.status !== 0) throw StackErrors.STACK_START_FAILED(`redis-server: ${r.stderr || r.stdout}`);
    await waitFor(
      `redis on port ${this.port} (log: ${join(this.#dir, 'redis.log')})`,
      () => portOpen(this.port),
      15_000,
    );
  }

  async stop(): Promise<void> {
    const pid = livePidFrom(this.#pidFile);
    if (pid === undefined) return;
    process.kill(pid, 'SIGTERM'); // Redis flushes the AOF and exits on SIGTERM
    await waitFor('redis to exit', () => !pidAlive(pid), 15_000);
  }

  async status(): Promise<ServerStatus> {
    const pid = livePidFrom(this.#pidFile);
    const running = pid !== undefined && (await portOpen(this.port));
    return running
      ? { name: this.name, running, pid, address: this.url }
      : { name: this.name, running: false };
  }
}
