/**
 * CPU time of the processes serving a benchmark: /proc/<pid>/stat (utime + stime, every thread, summed over
 * a process tree) for Node processes and PostgreSQL, Redis' own `INFO cpu` (getrusage of the whole server),
 * and the machine's busy time from /proc/stat. Everything is returned in seconds.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const v = Number(r.stdout?.trim());
  return Number.isInteger(v) && v > 0 ? v : 100;
})();

interface Stat {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": state(3) ppid(4) ... utime(14) stime(15).
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** CPU seconds of `root` and all its live descendants (threads included: /proc/<pid>/stat sums them). */
export function treeCpuSeconds(root: number): number {
  const byParent = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const st = readStat(pid);
    if (!st) continue;
    ticks.set(pid, st.ticks);
    const list = byParent.get(st.ppid);
    if (list) list.push(pid);
    else byParent.set(st.ppid, [pid]);
  }
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    total += ticks.get(pid) ?? 0;
    stack.push(...(byParent.get(pid) ?? []));
  }
  return total / CLK_TCK;
}

/** CPU seconds of one process (all its threads). */
export function pidCpuSeconds(pid: number): number {
  const st = readStat(pid);
  return st ? st.ticks / CLK_TCK : 0;
}

/** Resident memory of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The whole machine: busy and total CPU seconds (summed over cores) since boot. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

const num = (info: string, key: string): number =>
  Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);

/** Redis' CPU seconds (user + sys, all its threads) from INFO cpu. */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  return num(info, 'used_cpu_user') + num(info, 'used_cpu_sys');
}

export interface CommandStat {
  calls: number;
  usec: number;
}

/** INFO commandstats as a map command -> {calls, usec}. */
export async function redisCommandStats(redis: Redis): Promise<Map<string, CommandStat>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, CommandStat>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return out;
}

/** The difference of two commandstats snapshots, commands with calls only, busiest first. */
export function commandStatsDelta(
  before: Map<string, CommandStat>,
  after: Map<string, CommandStat>,
): Record<string, CommandStat> {
  const rows: [string, CommandStat][] = [];
  for (const [name, a] of after) {
    const b = before.get(name) ?? { calls: 0, usec: 0 };
    const calls = a.calls - b.calls;
    if (calls > 0) rows.push([name, { calls, usec: a.usec - b.usec }]);
  }
  rows.sort((x, y) => y[1].usec - x[1].usec);
  return Object.fromEntries(rows);
}

/** Something whose CPU seconds we can read before and after a run. */
export interface CpuProbe {
  name: string;
  kind: 'node' | 'redis' | 'postgres' | 'ceiling';
  read(): Promise<number> | number;
}

export interface CpuWindow {
  /** CPU seconds per probe over the window. */
  byProbe: Record<string, number>;
  /** Sums by kind. */
  byKind: Record<string, number>;
  machineBusy: number;
  wall: number;
}

/** Reads every probe, runs `fn`, reads them again. */
export async function withCpu<T>(
  probes: CpuProbe[],
  fn: () => Promise<T>,
): Promise<{ result: T; cpu: CpuWindow }> {
  const before = await Promise.all(probes.map((p) => p.read()));
  const m0 = machineCpuSeconds();
  const t0 = performance.now();
  const result = await fn();
  const wall = (performance.now() - t0) / 1000;
  const m1 = machineCpuSeconds();
  const after = await Promise.all(probes.map((p) => p.read()));
  const byProbe: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  probes.forEach((p, i) => {
    const d = Math.max(0, after[i]! - before[i]!);
    byProbe[p.name] = d;
    byKind[p.kind] = (byKind[p.kind] ?? 0) + d;
  });
  return { result, cpu: { byProbe, byKind, machineBusy: m1.busy - m0.busy, wall } };
}
