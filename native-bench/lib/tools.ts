/**
 * The Debian tools the benchmarks drive: `wrk` (package wrk) and `redis-benchmark` (redis-tools, which the
 * stack's own `ensureSystemPackages` already installs with redis-server). Missing ones are installed with
 * apt-get when we are root (or have passwordless sudo), with the stack's helpers; otherwise a clear error.
 */
import { isRoot, run, which } from '../../deploy/local/os-tools.ts';

export interface BenchTools {
  wrk: string;
  redisBenchmark: string;
}

const NEEDED: { binary: string; pkg: string }[] = [
  { binary: 'wrk', pkg: 'wrk' },
  { binary: 'redis-benchmark', pkg: 'redis-tools' },
];

export function ensureBenchTools(log: (msg: string) => void): BenchTools {
  const missing = NEEDED.filter((n) => which(n.binary) === undefined);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    const command = `apt-get install -y ${pkgs.join(' ')}`;
    const sudo = isRoot() ? [] : run('sudo', ['-n', 'true']).status === 0 ? ['sudo'] : undefined;
    if (!sudo) {
      throw new Error(
        `The benchmarks need ${missing.map((m) => m.binary).join(', ')}: install them (as root: ${command}) and run again.`,
      );
    }
    log(`installing Debian packages: ${pkgs.join(' ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const apt = (args: string[]) =>
      sudo.length ? run('sudo', ['-E', 'apt-get', ...args], { env }) : run('apt-get', args, { env });
    apt(['update', '-qq']);
    const r = apt(['install', '-y', '-qq', '--no-install-recommends', ...pkgs]);
    if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr.trim().slice(-2000)}`);
  }
  const wrk = which('wrk');
  const redisBenchmark = which('redis-benchmark');
  if (!wrk || !redisBenchmark) throw new Error('wrk or redis-benchmark still missing after apt-get install');
  return { wrk, redisBenchmark };
}

/** `wrk -v` / `redis-server --version` style one-liners for the report. */
export function toolVersion(binary: string, args: string[]): string {
  const r = run(binary, args);
  return (
    `${r.stdout}${r.stderr}`
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? 'unknown'
  );
}
