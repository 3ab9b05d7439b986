/** What every scenario receives: the running bench stack, buyers, tools, settings and the CPU probes. */
import type { Redis } from 'ioredis';
import { type CpuProbe, redisCpuSeconds, treeCpuSeconds } from './cpu.ts';
import type { Generator } from './load.ts';
import type { MeasureContext, RunRecord, Target } from './measure.ts';
import { type BenchStack, PLATFORM_PROCESSES } from './stack.ts';
import type { BenchTools } from './tools.ts';
import type { BenchUser } from './users.ts';

export interface BenchSettings {
  smoke: boolean;
  durationS: number;
  warmupS: number;
  /** Connections of every run but the purchase's (the largest of `purchaseConnections`). */
  connections: number;
  /** The purchase scenario runs at each of these, in the same run. */
  purchaseConnections: number[];
  generators: Generator[];
  users: number;
  wsClients: number;
}

export interface BenchContext {
  stack: BenchStack;
  redis: Redis;
  tools: BenchTools;
  users: BenchUser[];
  operatorToken: string;
  cells: number[];
  settings: BenchSettings;
  measure: MeasureContext;
  runId: string;
  log: (msg: string) => void;
  /** Ceiling runs measured once per bench run and shared by the scenarios that compare against them. */
  shared: Map<string, RunRecord[]>;
}

export function nodeProbe(name: string, pid: number): CpuProbe {
  return { name, kind: 'node', read: () => treeCpuSeconds(pid) };
}

export function redisProbe(redis: Redis): CpuProbe {
  return { name: 'redis', kind: 'redis', read: () => redisCpuSeconds(redis) };
}

/**
 * The platform's processes besides the front server, as `npm start` runs them: every service (auth, flash-sale,
 * the outbox relay, ...), Redis and PostgreSQL. Their CPU is part of every purchase's cost.
 */
function backing(ctx: BenchContext): CpuProbe[] {
  const s = ctx.stack;
  const probes = [
    ...PLATFORM_PROCESSES.filter((name) => name !== 'edge' && s.processes.has(name)).map((name) =>
      nodeProbe(name, s.pid(name)),
    ),
    redisProbe(ctx.redis),
  ];
  const pg = s.postgresPid;
  if (pg !== undefined) probes.push({ name: 'postgres', kind: 'postgres', read: () => treeCpuSeconds(pg) });
  return probes;
}

export function edgeTarget(ctx: BenchContext): Target {
  return {
    name: 'edge',
    role: 'subject',
    probes: [nodeProbe('edge', ctx.stack.pid('edge')), ...backing(ctx)],
  };
}

/**
 * The peer is measured with the same backing processes as the edge: it uses the same sale machinery (the
 * flash-sale service moves quota into the cells it buys from), the same auth service's JWKS, and its script
 * writes the same outbox events the relay moves.
 */
export function peerTarget(ctx: BenchContext): Target {
  return {
    name: 'fastify-peer',
    role: 'peer',
    probes: [nodeProbe('fastify-peer', ctx.stack.pid('peer')), ...backing(ctx)],
  };
}

export function helloTarget(ctx: BenchContext): Target {
  return { name: 'uws-hello', role: 'ceiling', probes: [nodeProbe('uws-hello', ctx.stack.pid('hello'))] };
}

export function shuffled<T>(items: readonly T[], seed = 42): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
