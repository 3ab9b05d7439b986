/**
 * The ceilings every HTTP scenario is compared with, measured in the same run: the uWS hello-world server
 * (the HTTP ceiling of this machine and load generator) with each generator, and `redis-benchmark` running
 * the purchase script with pipelining (what Redis alone does with our script, AOF as the product runs it).
 */
import { spawn } from 'node:child_process';
import { configureSaleCell, createSale } from '../../lua/admin.ts';
import { saleCellKeys } from '../../lua/keys.ts';
import { loadScripts } from '../../lua/loader.ts';
import { transferQuota } from '../../lua/quota-transfer.ts';
import { type BenchContext, helloTarget, redisProbe } from '../lib/context.ts';
import { commandStatsDelta, pidCpuSeconds, redisCommandStats, withCpu } from '../lib/cpu.ts';
import { runWrk } from '../lib/load.ts';
import { cpuPerRequest, measureHttp, type RunRecord } from '../lib/measure.ts';

/** uWS hello world with every generator; measured once per bench run. */
export async function helloCeiling(ctx: BenchContext): Promise<RunRecord[]> {
  const cached = ctx.shared.get('hello');
  if (cached) return cached;
  const s = ctx.settings;
  const spec = {
    base: ctx.stack.helloUrl,
    method: 'GET' as const,
    path: '/',
    connections: s.connections,
    durationS: s.durationS,
  };
  if (s.warmupS > 0) await runWrk(ctx.tools.wrk, { ...spec, durationS: s.warmupS }, ctx.measure.workDir);
  const out: RunRecord[] = [];
  for (const g of s.generators)
    out.push(await measureHttp(ctx.measure, 'http-ceiling', helloTarget(ctx), g, spec));
  ctx.shared.set('hello', out);
  return out;
}

/** redis-benchmark: EVALSHA of flash-sale-purchase (a batch of one, a new user and key each call), pipelined. */
export async function redisBenchmarkCeiling(
  ctx: BenchContext,
  pipeline = 16,
  clients = 50,
): Promise<RunRecord> {
  const redis = ctx.redis;
  const scripts = await loadScripts(redis);
  const cell = '9000'; // not in the map: no platform process touches it
  const saleId = `rb${ctx.runId}`;
  const units = 1_000_000_000;
  await createSale(redis, { saleId, initial: units });
  await configureSaleCell(redis, {
    cell,
    saleId,
    startsAt: 1,
    endsAt: 1e13,
    perUserLimit: 1000,
    reservationTtlMs: 3_600_000,
  });
  await transferQuota(scripts, {
    saleId,
    transferId: `${saleId}t`,
    amount: units,
    from: 'pool',
    to: { cell },
    now: Date.now(),
  });
  const k = saleCellKeys(cell, saleId);
  const now = String(Date.now());
  const n = ctx.settings.smoke ? 20_000 : Math.round(ctx.settings.durationS * 120_000);
  const url = new URL(ctx.stack.redisUrl);
  const args = [
    '-h',
    url.hostname,
    '-p',
    url.port,
    '-c',
    String(clients),
    '-P',
    String(pipeline),
    '-n',
    String(n),
    '-r',
    '1000000000',
    '--csv',
    'EVALSHA',
    scripts.shas['flash-sale-purchase'],
    '6',
    k.sale,
    k.users,
    k.reservations,
    k.expiry,
    k.outbox,
    k.seq,
    saleId,
    now,
    '1',
    'u__rand_int__',
    '1',
    'k__rand_int__',
    now,
  ];
  const stats0 = await redisCommandStats(redis);
  const reserved0 = Number((await redis.hget(k.sale, 'r')) ?? 0);
  let genCpu = 0;
  const { result: csv, cpu } = await withCpu([redisProbe(redis)], async () => {
    const child = spawn(ctx.tools.redisBenchmark, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const sampler = setInterval(() => {
      const c = pidCpuSeconds(child.pid!);
      if (c > 0) genCpu = c;
    }, 100);
    const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
    clearInterval(sampler);
    if (code !== 0) throw new Error(`redis-benchmark failed (${code}): ${out.slice(-1000)}`);
    return out;
  });
  const stats1 = await redisCommandStats(redis);
  const reserved = Number((await redis.hget(k.sale, 'r')) ?? 0) - reserved0;
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const row = csv
    .split('\n')
    .filter((l) => l.startsWith('"EVALSHA'))
    .pop();
  if (!row) throw new Error(`redis-benchmark printed no result: ${csv.slice(-1000)}`);
  const f = row.split('","').map((x) => x.replaceAll('"', ''));
  const rps = Number(f[1]);
  const commands = commandStatsDelta(stats0, stats1);
  const record: RunRecord = {
    scenario: 'purchase',
    variant: 'redis-only',
    target: `redis-benchmark -P ${pipeline}`,
    role: 'ceiling',
    generator: 'redis-benchmark',
    connections: clients,
    durationS: n / rps,
    requests: n,
    rps,
    non2xx: 0,
    socketErrors: 0,
    latencyMs: {
      p50: Number(f[4]),
      p90: Number(f[5]),
      p99: Number(f[6]),
      p999: Number(f[7]),
      mean: Number(f[2]),
      max: Number(f[7]),
    },
    cpu: cpuPerRequest(cpu, n, genCpu),
    redis: {
      evalshaPerRequest: (commands.evalsha?.calls ?? 0) / n,
      redisExecUsPerRequest: (commands.evalsha?.usec ?? 0) / n,
      commands: Object.fromEntries(Object.entries(commands).slice(0, 10)),
    },
    outcome: { reserved },
    settings: { pipeline, clients, script: 'flash-sale-purchase.lua', batch: 1 },
    note: 'latency columns: p90 is p95 (redis-benchmark reports p95), p99.9 is max',
  };
  ctx.log(
    `  purchase/redis-only redis-benchmark -P ${pipeline}: ${Math.round(rps)} calls/s, ` +
      `Redis CPU ${record.cpu.redisUs.toFixed(1)} us/call, reserved ${reserved}`,
  );
  // Cell 9000 exists only for this run: drop what it wrote (the reservations would only grow the AOF).
  await redis.unlink(k.sale, k.users, k.reservations, k.expiry, k.outbox, k.seq);
  return record;
}
