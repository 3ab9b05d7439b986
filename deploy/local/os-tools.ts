/** Small OS helpers for the stack manager: running commands, probing ports and processes. */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

export const isRoot = (): boolean => process.getuid?.() === 0;

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: options.env ?? process.env, cwd: options.cwd });
  if (r.error) return { status: 127, stdout: '', stderr: r.error.message };
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * `run` without blocking the event loop: for probes polled while the same process serves traffic (a test or a
 * chaos harness restarting a node next to a running engine), where a blocked main thread would delay answers.
 */
export function runAsync(cmd: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = (err as (NodeJS.ErrnoException & { code?: unknown }) | null)?.code;
      if (err && typeof code === 'string') resolve({ status: 127, stdout: '', stderr: err.message });
      else resolve({ status: typeof code === 'number' ? code : 0, stdout, stderr });
    });
  });
}

export function which(binary: string): string | undefined {
  const r = run('sh', ['-c', `command -v ${binary}`]);
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid recorded in a pid file (first line), when the file exists and that process is alive. */
export function livePidFrom(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Pids of the live children of `pid`, read from /proc (no procps needed). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command name: state, ppid, ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      // the process went away while we looked
    }
  }
  return out;
}

/** Live children of `pid` whose command line contains `part` (tsx may also have started an esbuild service child). */
export function childPidsRunning(pid: number, part: string): number[] {
  return childPids(pid).filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes(part);
    } catch {
      return false;
    }
  });
}

/** A TCP port that is free right now on 127.0.0.1 (the OS picks it), for tests that run servers. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether 127.0.0.1:port can be bound right now. */
export function portBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A base port whose `count` consecutive ports are all free right now, and so are the same ports shifted by each
 * of `alsoOffsets` (a Redis Cluster node also listens on its bus port, port + 10000). Tries random bases below
 * the kernel's ephemeral range, for tests that run a private cluster.
 */
export async function freePortBlock(
  count: number,
  options: { alsoOffsets?: readonly number[]; from?: number; to?: number } = {},
): Promise<number> {
  const offsets = [0, ...(options.alsoOffsets ?? [])];
  const from = options.from ?? 20_000;
  const to = options.to ?? 32_000 - count;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = from + Math.floor(Math.random() * (to - from));
    let free = true;
    for (let i = 0; free && i < count; i++) {
      for (const offset of offsets) {
        if (!(await portBindable(base + i + offset))) {
          free = false;
          break;
        }
      }
    }
    if (free) return base;
  }
  throw new Error(`no block of ${count} free ports (offsets ${offsets.join(', ')}) found in ${from}..${to}`);
}
