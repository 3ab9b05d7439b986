/**
 * A project-private PostgreSQL cluster initialised with initdb under the stack's data dir.
 * PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` user,
 * and the data dir's ancestors must be traversable by it.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { StackErrors } from './errors.ts';
import { isRoot, livePidFrom, portOpen, run } from './os-tools.ts';
import type { ServerStatus, StackServer } from './server.ts';

export const PG_USER = 'titan';
export const PG_DATABASE = 'titan';

export class PostgresServer implements StackServer {
  readonly name = 'postgres';
  readonly #dir: string;

  constructor(
    private readonly binDir: string,
    dataDir: string,
    private readonly port: number,
    private readonly log: (msg: string) => void,
  ) {
    this.#dir = join(dataDir, 'postgres');
  }

  get url(): string {
    return `postgres://${PG_USER}@127.0.0.1:${this.port}/${PG_DATABASE}`;
  }

  get adminUrl(): string {
    return `postgres://${PG_USER}@127.0.0.1:${this.port}/postgres`;
  }

  #pg(tool: string, args: string[]) {
    const bin = join(this.binDir, tool);
    return isRoot() ? run('runuser', ['-u', 'postgres', '--', bin, ...args]) : run(bin, args);
  }

  /** As root: let the postgres user reach the data dir (o+x on ancestors that lack it). */
  #grantTraversal(): void {
    run('chown', ['-R', 'postgres:postgres', this.#dir]);
    for (let d = dirname(this.#dir); d !== dirname(d); d = dirname(d)) {
      if (run('runuser', ['-u', 'postgres', '--', 'test', '-x', d]).status !== 0) {
        chmodSync(d, statSync(d).mode | 0o001);
        this.log(`granted traversal (o+x) on ${d} so the postgres user can reach its data dir`);
      }
    }
  }

  async start(): Promise<void> {
    if (livePidFrom(join(this.#dir, 'postmaster.pid')) !== undefined && (await portOpen(this.port))) return;
    if (await portOpen(this.port)) {
      throw StackErrors.STACK_PORT_IN_USE(
        `Port ${this.port} is in use by another process; stop it or choose another port for PostgreSQL (TITAN_PG_PORT / TITAN_TEST_PG_PORT).`,
      );
    }
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    if (isRoot()) this.#grantTraversal();
    if (!existsSync(join(this.#dir, 'PG_VERSION'))) {
      const init = this.#pg('initdb', [
        '-D',
        this.#dir,
        '-A',
        'trust',
        '-U',
        PG_USER,
        '-E',
        'UTF8',
        '--no-locale',
      ]);
      if (init.status !== 0) throw StackErrors.STACK_START_FAILED(`initdb: ${init.stderr || init.stdout}`);
    }
    const options = [
      `-p ${this.port}`,
      `-k ${this.#dir}`,
      "-c listen_addresses='127.0.0.1'",
      '-c max_connections=300',
      '-c shared_buffers=256MB',
      '-c fsync=on',
    ].join(' ');
    const start = this.#pg('pg_ctl', [
      '-D',
      this.#dir,
      '-o',
      options,
      '-l',
      join(this.#dir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
    if (start.status !== 0) {
      throw StackErrors.STACK_START_FAILED(
        `pg_ctl start: ${start.stderr || start.stdout} (log: ${join(this.#dir, 'server.log')})`,
      );
    }
    await this.#ensureDatabase();
  }

  async #ensureDatabase(): Promise<void> {
    const client = new pg.Client({ connectionString: this.adminUrl });
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG_DATABASE]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${PG_DATABASE}`);
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    if (livePidFrom(join(this.#dir, 'postmaster.pid')) === undefined) return;
    const r = this.#pg('pg_ctl', ['-D', this.#dir, '-m', 'fast', '-w', '-t', '60', 'stop']);
    if (r.status !== 0) throw StackErrors.STACK_START_FAILED(`pg_ctl stop: ${r.stderr || r.stdout}`);
  }

  async status(): Promise<ServerStatus> {
    const pid = livePidFrom(join(this.#dir, 'postmaster.pid'));
    const running = pid !== undefined && (await portOpen(this.port));
    return running
      ? { name: this.name, running, pid, address: this.url }
      : { name: this.name, running: false };
  }
}
