/**
 * Finds the server binaries the stack runs, and installs the Debian packages that provide them when
 * they are missing and we may (root, or passwordless sudo). Otherwise it says exactly what to install.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { StackErrors } from './errors.ts';
import { isRoot, run, which } from './os-tools.ts';

export interface Binaries {
  redisServer: string;
  /** redis-cli (Debian redis-tools): creates and inspects the Redis Cluster. */
  redisCli: string;
  pgBin: string;
  gcc?: string;
}

interface Requirement {
  pkg: string;
  present: () => boolean;
}

/** The newest PostgreSQL (>= 14) bin directory from Debian's layout, or TITAN_PG_BIN. */
export function findPgBin(): string | undefined {
  const override = process.env.TITAN_PG_BIN;
  if (override) return existsSync(join(override, 'initdb')) ? override : undefined;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .map(Number)
    .filter((v) => Number.isInteger(v) && v >= 14 && existsSync(join(base, String(v), 'bin', 'initdb')))
    .sort((a, b) => b - a);
  return versions.length ? join(base, String(versions[0]), 'bin') : undefined;
}

const KAFKA_HEADER = '/usr/include/librdkafka/rdkafka_mock.h';

function requirements(kafka: boolean): Requirement[] {
  const list: Requirement[] = [
    { pkg: 'redis-server', present: () => which('redis-server') !== undefined },
    { pkg: 'redis-tools', present: () => which('redis-cli') !== undefined },
    { pkg: 'postgresql', present: () => findPgBin() !== undefined },
  ];
  if (kafka) {
    list.push({ pkg: 'librdkafka-dev', present: () => existsSync(KAFKA_HEADER) });
    list.push({ pkg: 'gcc', present: () => which('gcc') !== undefined });
  }
  return list;
}

export function ensureSystemPackages(options: { kafka: boolean; log: (msg: string) => void }): Binaries {
  const missing = requirements(options.kafka)
    .filter((r) => !r.present())
    .map((r) => r.pkg);
  if (missing.length > 0) {
    const sudo = isRoot() ? [] : run('sudo', ['-n', 'true']).status === 0 ? ['sudo'] : undefined;
    const command = `apt-get install -y ${missing.join(' ')}`;
    if (!sudo) {
      throw StackErrors.STACK_MISSING_PACKAGES(
        `Missing Debian packages: ${missing.join(', ')}. Install them (as root: ${command}) and run again.`,
        { missing },
      );
    }
    options.log(`installing Debian packages: ${missing.join(' ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const apt = (args: string[]) =>
      sudo.length ? run('sudo', ['-E', 'apt-get', ...args], { env }) : run('apt-get', args, { env });
    const update = apt(['update', '-qq']);
    if (update.status !== 0) options.log(`apt-get update failed (continuing): ${update.stderr.trim()}`);
    const install = apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
    if (install.status !== 0) {
      throw StackErrors.STACK_MISSING_PACKAGES(`${command} failed: ${install.stderr.trim().slice(-2000)}`, {
        missing,
      });
    }
  }
  const redisServer = which('redis-server');
  const redisCli = which('redis-cli');
  const pgBin = findPgBin();
  if (!redisServer || !redisCli || !pgBin) {
    throw StackErrors.STACK_MISSING_PACKAGES(
      'redis-server, redis-cli or PostgreSQL binaries still missing after install',
    );
  }
  const gcc = which('gcc');
  return gcc ? { redisServer, redisCli, pgBin, gcc } : { redisServer, redisCli, pgBin };
}
