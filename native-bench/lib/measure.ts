/**
 * One measured run: a load generator against a target, with the CPU time of every process serving it read
 * before and after (Node processes and their threads, Redis, PostgreSQL), Redis' own command statistics, and
 * optional counters that say which path was measured. The result is one `RunRecord` of the report.
 */
import type { Redis } from 'ioredis';
import { type CommandStat, type CpuProbe, commandStatsDelta, redisCommandStats, withCpu } from './cpu.ts';
import { engineDelta, engineSums } from './engine-metrics.ts';
import { type LoadResult, type LoadSpec, runAutocannon, runWrk } from './load.ts';

export type Role = 'subject' | 'peer' | 'ceiling';

export interface Target {
  name: string;
  role: Role;
  probes: CpuProbe[];
}

export interface CpuPerRequest {
  /** Microseconds of CPU per request served. */
  nodeUs: number;
  redisUs: number;
  postgresUs: number;
  /** Every serving process: Node + Redis + PostgreSQL. */
  totalUs: number;
  byProcessUs: Record<string, number>;
  generatorUs: number;
  /** The whole machine's busy time per request, and the same minus the generator's. */
  machineUs: number;
  machineMinusGeneratorUs: number;
}

export interface RunRecord {
  scenario: string;
  variant?: string;
  target: string;
  role: Role;
  generator: 'wrk' | 'autocannon' | 'redis-benchmark';
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  non2xx: number;
  socketErrors: number;
  latencyMs: LoadResult['latencyMs'];
  cpu: CpuPerRequest;
  statusCodes?: Record<string, number>;
  redis?: { evalshaPerRequest: number; redisExecUsPerRequest: number; commands: Record<string, CommandStat> };
  outcome?: Record<string, number>;
  /** The edge engine's batching figures over the run (edge targets). */
  engine?: Record<string, number>;
  settings?: Record<string, unknown>;
  note?: string;
}

export interface MeasureContext {
  wrk: string;
  redis: Redis;
  workDir: string;
  log: (msg: string) => void;
}

export function cpuPerRequest(
  cpu: Awaited<ReturnType<typeof withCpu>>['cpu'],
  requests: number,
  generatorCpuS: number,
): CpuPerRequest {
  const per = (s: number) => (requests > 0 ? (s * 1e6) / requests : 0);
  const node = per((cpu.byKind.node ?? 0) + (cpu.byKind.ceiling ?? 0));
  const redis = per(cpu.byKind.redis ?? 0);
  const postgres = per(cpu.byKind.postgres ?? 0);
  const byProcessUs: Record<string, number> = {};
  for (const [k, v] of Object.entries(cpu.byProbe)) byProcessUs[k] = per(v);
  return {
    nodeUs: node,
    redisUs: redis,
    postgresUs: postgres,
    totalUs: node + redis + postgres,
    byProcessUs,
    generatorUs: per(generatorCpuS),
    machineUs: per(cpu.machineBusy),
    machineMinusGeneratorUs: per(cpu.machineBusy - generatorCpuS),
  };
}

export async function measureHttp(
  ctx: MeasureContext,
  scenario: string,
  target: Target,
  generator: 'wrk' | 'autocannon',
  spec: LoadSpec,
  extra: {
    variant?: string;
    counters?: () => Promise<Record<string, number>>;
    settings?: Record<string, unknown>;
    /** The edge's base URL: its engine metrics are read before and after. */
    edgeUrl?: string;
    /**
     * Background work the run's requests cause after their answers (the outbox relay): awaited before the run
     * and, inside its CPU window, after the load, so it is charged to this run's requests.
     */
    settle?: () => Promise<void>;
    /** Run before the run's first reading, outside its CPU window (e.g. compacting Redis's AOF). */
    prepare?: () => Promise<void>;
  } = {},
): Promise<RunRecord> {
  await extra.settle?.();
  await extra.prepare?.();
  const before = extra.counters ? await extra.counters() : undefined;
  const engine0 = extra.edgeUrl ? await engineSums(extra.edgeUrl) : undefined;
  const stats0 = await redisCommandStats(ctx.redis);
  const { result, cpu } = await withCpu(target.probes, async () => {
    const r = await (generator === 'wrk' ? runWrk(ctx.wrk, spec, ctx.workDir) : runAutocannon(spec));
    await extra.settle?.();
    return r;
  });
  const stats1 = await redisCommandStats(ctx.redis);
  const after = extra.counters ? await extra.counters() : undefined;
  const engine1 = extra.edgeUrl ? await engineSums(extra.edgeUrl) : undefined;
  const commands = commandStatsDelta(stats0, stats1);
  const evalsha = (commands.evalsha?.calls ?? 0) + (commands.eval?.calls ?? 0);
  const execUs = (commands.evalsha?.usec ?? 0) + (commands.eval?.usec ?? 0);
  const record: RunRecord = {
    scenario,
    ...(extra.variant ? { variant: extra.variant } : {}),
    target: target.name,
    role: target.role,
    generator,
    connections: result.connections,
    durationS: result.durationS,
    requests: result.requests,
    rps: result.rps,
    non2xx: result.non2xx,
    socketErrors: result.socketErrors,
    latencyMs: result.latencyMs,
    cpu: cpuPerRequest(cpu, result.requests, result.generatorCpuS),
    ...(result.statusCodes ? { statusCodes: result.statusCodes } : {}),
    ...(extra.settings ? { settings: extra.settings } : {}),
  };
  if (evalsha > 0 && result.requests > 0) {
    const top = Object.fromEntries(Object.entries(commands).slice(0, 10));
    record.redis = {
      evalshaPerRequest: evalsha / result.requests,
      redisExecUsPerRequest: execUs / result.requests,
      commands: top,
    };
  }
  if (engine0 && engine1) record.engine = engineDelta(engine0, engine1);
  if (before && after) {
    record.outcome = {};
    for (const k of Object.keys(after)) record.outcome[k] = after[k]! - (before[k] ?? 0);
  }
  ctx.log(
    `  ${scenario}${extra.variant ? `/${extra.variant}` : ''} ${target.name} [${generator}, ${result.connections} conns]: ` +
      `${Math.round(result.rps)} req/s, p99 ${result.latencyMs.p99.toFixed(2)} ms, ` +
      `CPU/req node ${record.cpu.nodeUs.toFixed(1)} us + redis ${record.cpu.redisUs.toFixed(1)} us, ` +
      `non-2xx ${result.non2xx}${record.outcome ? `, ${JSON.stringify(record.outcome)}` : ''}` +
      `${record.engine ? `, engine ${JSON.stringify(Object.fromEntries(Object.entries(record.engine).map(([k, v]) => [k, Math.round(v * 100) / 100])))}` : ''}`,
  );
  return record;
}
