/**
 * `npm run bench [-- <scenario>...] [--smoke] [options]`: the benchmark suites of native-bench/.
 * Scenarios: purchase, status, ws-fanout, micro, tune (default: all, in that order).
 * Starts a bench stack of its own (data dir .titan-bench/, ports 28xxx; never the dev or test stack's), or
 * uses the Redis and database given in TITAN_BENCH_REDIS_URL / TITAN_BENCH_DATABASE_URL (the smoke test);
 * writes <out>/<timestamp>.json and <out>/latest.md with SVG charts (out: native-bench/results, or a temp
 * dir for --smoke). Progress goes to stderr; the written files' paths to stdout.
 *
 * Options: --duration S (10) --warmup S (3; 0 skips) --connections N[,N...] (64,256: the purchase runs at each,
 *          the other scenarios at the largest) --users N (5000) --ws-clients N (10000)
 *          --generators wrk,autocannon  --edge-processes N (1)  --out DIR  --data-dir DIR  --keep-stack
 *          --cpu-prof (V8 profiles of the edge and the peer, summarized in the report)
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadCellMap } from '../cells/index.ts';
import type { BenchContext, BenchSettings } from './lib/context.ts';
import { profileFiles, summarizeProfile } from './lib/cpu-profile.ts';
import type { Generator } from './lib/load.ts';
import type { RunRecord } from './lib/measure.ts';
import { endSale, loginOperator } from './lib/platform.ts';
import { BenchStack, OPERATOR, PROFILED, ROOT } from './lib/stack.ts';
import { ensureBenchTools, toolVersion } from './lib/tools.ts';
import { benchUsers } from './lib/users.ts';
import type { BenchDocument } from './report/document.ts';
import { checkTargets } from './report/targets.ts';
import { writeReport } from './report/write.ts';
import { microScenario } from './scenarios/micro.ts';
import { purchaseScenario } from './scenarios/purchase.ts';
import { statusScenario } from './scenarios/status.ts';
import { tuneScenario } from './scenarios/tune.ts';
import { wsFanoutScenario } from './scenarios/ws-fanout.ts';

const SCENARIOS = ['purchase', 'status', 'ws-fanout', 'micro', 'tune'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    smoke: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    users: { type: 'string' },
    'ws-clients': { type: 'string' },
    generators: { type: 'string' },
    'edge-processes': { type: 'string' },
    out: { type: 'string' },
    'data-dir': { type: 'string' },
    'keep-stack': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
  },
});

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const unknown = positionals.filter((p) => !SCENARIOS.includes(p as Scenario));
if (unknown.length) {
  log(`unknown scenario(s): ${unknown.join(', ')}; expected ${SCENARIOS.join(', ')}`);
  process.exit(2);
}
const scenarios: Scenario[] = positionals.length
  ? SCENARIOS.filter((s) => positionals.includes(s))
  : [...SCENARIOS];
const smoke = opts.smoke!;
const int = (v: string | undefined, fallback: number, name: string) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < (name === 'warmup' ? 0 : 1)) {
    log(`--${name} must be a ${name === 'warmup' ? 'non-negative' : 'positive'} integer`);
    process.exit(2);
  }
  return n;
};
const purchaseConnections = (opts.connections ?? (smoke ? '32' : '64,256'))
  .split(',')
  .map((c) => int(c.trim(), 0, 'connections'));
const settings: BenchSettings = {
  smoke,
  durationS: int(opts.duration, smoke ? 1 : 10, 'duration'),
  warmupS: int(opts.warmup, smoke ? 0 : 3, 'warmup'),
  connections: Math.max(...purchaseConnections),
  purchaseConnections,
  generators: (opts.generators ?? 'wrk,autocannon').split(',').filter(Boolean) as Generator[],
  users: int(opts.users, smoke ? 60 : 5000, 'users'),
  wsClients: int(opts['ws-clients'], smoke ? 200 : 10_000, 'ws-clients'),
};
if (settings.generators.some((g) => g !== 'wrk' && g !== 'autocannon')) {
  log('--generators takes wrk and/or autocannon');
  process.exit(2);
}
const edgeProcesses = int(opts['edge-processes'], 1, 'edge-processes');
const scryptLogN = 10;
const stamp = new Date();
const runId = stamp.getTime().toString(36);
const outDir =
  opts.out ?? (smoke ? join(tmpdir(), `titan-bench-smoke-${runId}`) : join(ROOT, 'native-bench', 'results'));
const dataDir =
  opts['data-dir'] ?? (smoke ? join(tmpdir(), `titan-bench-data-${runId}`) : join(ROOT, '.titan-bench'));
const external =
  process.env.TITAN_BENCH_REDIS_URL && process.env.TITAN_BENCH_DATABASE_URL
    ? { redisUrl: process.env.TITAN_BENCH_REDIS_URL, databaseUrl: process.env.TITAN_BENCH_DATABASE_URL }
    : undefined;
// Per-user token buckets: the product's defaults (20/s, burst 40) hold with thousands of users; a smoke
// run's few users would mostly be answered 429, so it raises them.
if (smoke) {
  process.env.TITAN_EDGE_USER_RATE ??= '1000000';
  process.env.TITAN_EDGE_USER_BURST ??= '1000000';
}

function pkgVersion(name: string): string {
  try {
    const j = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
    return j.name === name ? j.version : `${j.name}@${j.version}`;
  } catch {
    return 'missing';
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  // Read before the bench's own set-up (stack start, thousands of registrations) loads the machine.
  const loadBeforeSetup = loadavg();
  const tools = ensureBenchTools(log);
  const needsPlatform = scenarios.some((s) => s !== 'micro');
  const stack = await BenchStack.create({
    dataDir,
    ports: smoke ? 'auto' : 'fixed',
    ...(external ? { external } : {}),
    scryptLogN,
    edgeProcesses,
    ...(opts['cpu-prof'] ? { cpuProfileDir: join(dataDir, 'profiles', runId) } : {}),
    log,
  });
  const records = new Set<RunRecord>();
  let redis: Redis | undefined;
  let finished!: BenchDocument;
  try {
    log(`starting the bench stack (data ${dataDir})`);
    await stack.start(needsPlatform);
    redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 2 });
    const info = await redis.info('server');
    const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const persistence = await redis.config('GET', 'append*');
    const cells = loadCellMap(stack.mapFile).cells.map((c) => c.id);
    let operatorToken = '';
    if (needsPlatform) {
      operatorToken = await loginOperator(stack.authUrl, OPERATOR.email, OPERATOR.password);
      // Sales a crashed earlier run left open would keep the control loop busy.
      const list = (await fetch(`${stack.edgeUrl}/v1/flash-sales`).then((r) => r.json())) as {
        sales?: { id: string; title: string; state: string }[];
      };
      for (const s of list.sales ?? []) {
        if (String(s.title).startsWith('bench ') && s.state !== 'ended')
          await endSale(stack.edgeUrl, operatorToken, s.id);
      }
    }
    const needsUsers = scenarios.some((s) => s === 'purchase' || s === 'ws-fanout' || s === 'tune');
    const users = needsUsers
      ? await benchUsers({
          authUrl: stack.authUrl,
          dataDir,
          count: settings.users,
          minValidMs: 30 * 60_000,
          log,
        })
      : [];
    const ctx: BenchContext = {
      stack,
      redis,
      tools,
      users,
      operatorToken,
      cells,
      settings,
      measure: { wrk: tools.wrk, redis, workDir: join(dataDir, 'wrk'), log },
      runId,
      log,
      shared: new Map(),
    };
    const doc: BenchDocument = {
      kind: 'titan-native-bench',
      version: 1,
      startedAt: stamp.toISOString(),
      finishedAt: '',
      smoke,
      scenarios,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryBytes: totalmem(),
        kernel: `Linux ${release()}`,
        loadAverageAtStart: loadBeforeSetup,
        loadAverageAfterSetup: loadavg(),
      },
      versions: {
        node: process.version,
        redis: redisVersion,
        wrk: toolVersion(tools.wrk, ['-v']).split(' ').slice(0, 2).join(' '),
        'redis-benchmark': toolVersion(tools.redisBenchmark, ['--version']),
        autocannon: pkgVersion('autocannon'),
        fastify: pkgVersion('fastify'),
        'uWebSockets.js': pkgVersion('uWebSockets.js'),
        ioredis: pkgVersion('ioredis'),
        piscina: pkgVersion('piscina'),
        tinybench: pkgVersion('tinybench'),
        jose: pkgVersion('jose'),
      },
      settings: {
        ...settings,
        edgeProcesses,
        scryptLogN,
        redisPersistence: Object.fromEntries(
          (persistence as string[]).flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]]] : [])),
        ),
        cellMap: 'cells/maps/local.json (4 cells, shipped pool settings) unless tune says otherwise',
        edgeUserRate: process.env.TITAN_EDGE_USER_RATE ?? '20 (default)',
        edgeUserBurst: process.env.TITAN_EDGE_USER_BURST ?? '40 (default)',
        edgeIpRate: '1000000 (all load comes from 127.0.0.1)',
        stack: external ? 'external (smoke test stack)' : `bench stack ${dataDir}`,
      },
      method: [
        `Machine: ${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB; load generator and servers share it.`,
        `HTTP load: wrk ${settings.generators.includes('wrk') ? `1 thread, ${settings.connections} connections, a Lua script setting Authorization (round-robin over ${settings.users} users) and a unique Idempotency-Key per request` : 'not used'}; autocannon ${settings.generators.includes('autocannon') ? `programmatic API in the runner process, ${settings.connections} connections, pipelining 1, setupRequest per request` : 'not used'}. Every figure names its generator; the uWS hello world is measured with each generator in the same run (the generator's own ceiling).`,
        `Duration ${settings.durationS} s per measured run, after a ${settings.warmupS} s wrk warm-up per target (not measured).`,
        "CPU per request: CPU seconds of every serving process over the run / requests served. Node: /proc/<pid>/stat utime+stime of the process tree (all threads: Piscina workers included) of the edge or peer plus every platform service process as npm start runs them (auth, user, catalog, flash-sale, the outbox relay); a purchase run's window lasts until the relay has moved the run's events; Redis: INFO cpu (used_cpu_user+sys, all its threads); PostgreSQL: /proc of the postmaster tree (when the bench started it). The generator's CPU and the whole machine's busy time are reported beside.",
        `Durability as the product runs it: Redis with appendonly yes, appendfsync ${(persistence as string[])[(persistence as string[]).indexOf('appendfsync') + 1] ?? '?'}; every purchase keeps its idempotency record, per-user count, reservation, expiry index entry and outbox event (the same Lua script for edge, peer and redis-benchmark).`,
        `Buyers: ${settings.users} users registered and logged in through the auth service's API (real EdDSA tokens verified against its JWKS); the bench's auth service runs with TITAN_SCRYPT_LOG_N=${scryptLogN} (bench only) and 1 h access tokens so registration is quick.`,
        'Each target buys from a fresh sale of its own (stock 10,000,000, 1000 per user) created through the admin API; the sold-out runs use sales whose stock the warm-up sold out. The purchase runs at each of the connection counts given; Redis rewrites its AOF before each purchase run; the first-seconds run restarts the edge and starts its load the moment a sale created 5 s earlier opens.',
      ],
      records: [],
      targets: [],
      notes: [
        'The machine has 2 cores shared by the load generator and every server: absolute figures move by 10-20% between runs when anything else runs; compare figures of the same run.',
      ],
    };
    for (const s of scenarios) {
      const started = performance.now();
      log(`scenario ${s}`);
      if (s === 'purchase') for (const r of await purchaseScenario(ctx)) records.add(r);
      if (s === 'status') for (const r of await statusScenario(ctx)) records.add(r);
      if (s === 'micro') doc.micro = await microScenario(ctx);
      if (s === 'ws-fanout') doc.wsFanout = await wsFanoutScenario(ctx);
      if (s === 'tune') doc.tune = await tuneScenario(ctx);
      log(`scenario ${s} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const [l1, l5, l15] = loadavg();
    doc.notes.push(
      `Load average (1/5/15 min) at start ${doc.machine.loadAverageAtStart.map((x) => x.toFixed(2)).join(' / ')}, ` +
        `at end ${[l1, l5, l15].map((x) => x!.toFixed(2)).join(' / ')}: above ~2 means other processes shared the 2 cores during the run.`,
    );
    doc.records = [...records];
    doc.targets = checkTargets(doc);
    doc.finishedAt = new Date().toISOString();
    finished = doc;
  } finally {
    redis?.disconnect();
    await stack.stop(opts['keep-stack']);
  }
  // Profiles are written when the processes exit, so the report is written after the stop.
  if (opts['cpu-prof']) {
    finished.profiles = {};
    for (const name of PROFILED) {
      for (const f of profileFiles(join(dataDir, 'profiles', runId, name))) {
        finished.profiles[`${name} ${basename(f)}`] = summarizeProfile(f);
      }
    }
  }
  const written = await writeReport(outDir, finished);
  log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  process.stdout.write(`${written.json}\n${written.md}\n`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
