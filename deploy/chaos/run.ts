/**
 * `npm run chaos`: every fault scenario under load on the chaos rig, then the hostile-input fuzz, and
 * the table of figures. Exits 1 when any invariant broke.
 *
 *   npm run chaos                                   # full: 20,000+ attempts per scenario, 120 s of fuzz
 *   npm run chaos -- --short                        # the sizes npm test uses
 *   npm run chaos -- --scenarios edge-kill,relay-kill --fuzz-seconds 0
 *
 * Without TITAN_CHAOS_REDIS_URL / TITAN_CHAOS_DATABASE_URL it starts servers of its own under
 * --data-dir (default .titan-chaos); the shards are always its own.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runFuzzChaos } from '../../edge/test/fuzz/chaos-fuzz.ts';
import { ROOT } from '../../native-bench/lib/stack.ts';
import { benchUsers } from '../../native-bench/lib/users.ts';
import { type ClusterFailoverReport, clusterFailover, clusterFailoverLines } from './cluster-failover.ts';
import { faultTable, fuzzLine } from './report.ts';

const CLUSTER_FAILOVER = 'cluster-failover';

import { type AppendFsync, ChaosRig } from './rig.ts';
import {
  CLUSTER_RIG_SCENARIOS,
  measureAofThroughput,
  runScenario,
  SCENARIOS,
  type ScenarioName,
  type ScenarioResult,
  type ScenarioSize,
} from './scenarios.ts';

/** 20,000 attempts per scenario; stock runs out near 45% of them, after the fault and its recovery. */
export const FULL: ScenarioSize = {
  users: 2500,
  attemptsPerUser: 8,
  connections: 64,
  perUserLimit: 4,
  stockFraction: 0.45,
  ratePerSecond: 600,
  faultAt: 0.12,
  outageMs: 3000,
  throughputAttempts: 8000,
};
/** npm test's version: 2,000 attempts, stock that lasts (the full run covers selling out under faults). */
export const SHORT: ScenarioSize = {
  users: 250,
  attemptsPerUser: 8,
  connections: 32,
  perUserLimit: 4,
  stockFraction: 0.55,
  ratePerSecond: 150,
  faultAt: 0.12,
  outageMs: 2000,
  throughputAttempts: 1500,
};

export interface ChaosRunOptions {
  size: ScenarioSize;
  scenarios: readonly ScenarioName[];
  dataDir: string;
  external?: { redisUrl: string; databaseUrl: string };
  log: (msg: string) => void;
}

export async function runFaultScenarios(o: ChaosRunOptions): Promise<ScenarioResult[]> {
  const onSingleShards = o.scenarios.filter((s) => !CLUSTER_RIG_SCENARIOS.includes(s));
  const onClusterShard = o.scenarios.filter((s) => CLUSTER_RIG_SCENARIOS.includes(s));
  const results: ScenarioResult[] = [];
  if (onSingleShards.length) results.push(...(await onRig(o, onSingleShards, false)));
  if (onClusterShard.length) results.push(...(await onRig(o, onClusterShard, true)));
  return results;
}

async function onRig(
  o: ChaosRunOptions,
  scenarios: readonly ScenarioName[],
  clusterShard: boolean,
): Promise<ScenarioResult[]> {
  const rig = await ChaosRig.start({
    dataDir: clusterShard ? join(o.dataDir, 'cluster-rig') : o.dataDir,
    cells: clusterShard ? 6 : 4,
    appendFsync: 'everysec',
    ...(clusterShard ? { clusterShard } : {}),
    log: o.log,
    ...(o.external ? { external: o.external } : {}),
  });
  try {
    const users = await benchUsers({
      authUrl: rig.stack.authUrl,
      dataDir: o.dataDir,
      count: o.size.users,
      minValidMs: 1800_000,
      log: o.log,
    });
    let aof: Record<AppendFsync, number> | undefined;
    if (scenarios.some((s) => s.startsWith('redis-restart'))) {
      aof = await measureAofThroughput(rig, users, o.size.throughputAttempts);
      o.log(`purchases/s by AOF fsync policy: ${JSON.stringify(aof)}`);
    }
    const results: ScenarioResult[] = [];
    // The failover leaves cells down in the map: it runs last.
    const ordered = [...scenarios].sort((a, b) => SCENARIOS.indexOf(a) - SCENARIOS.indexOf(b));
    for (const s of ordered) {
      const r = await runScenario(rig, s, users, o.size, o.log, aof);
      o.log(`${s}: finals ${JSON.stringify(r.finals)} retried ${JSON.stringify(r.retries)}`);
      o.log(`${s}: ${r.passed ? 'held' : `FAILED ${r.failures.join('; ')}`}`);
      results.push(r);
    }
    return results;
  } finally {
    await rig.stop();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      short: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      'fuzz-seconds': { type: 'string' },
      'data-dir': { type: 'string' },
    },
  });
  const asked = values.scenarios?.split(',') ?? [...SCENARIOS, CLUSTER_FAILOVER];
  const scenarios = asked.filter((s) => s !== CLUSTER_FAILOVER) as ScenarioName[];
  const unknown = scenarios.filter((s) => !SCENARIOS.includes(s));
  if (unknown.length) {
    console.error(
      `unknown scenarios: ${unknown.join(', ')} (known: ${[...SCENARIOS, CLUSTER_FAILOVER].join(', ')})`,
    );
    return 2;
  }
  const fuzzSeconds = Number(values['fuzz-seconds'] ?? (values.short ? 15 : 120));
  const log = (m: string) => console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${m}`);
  const env = process.env;
  const results =
    scenarios.length === 0
      ? []
      : await runFaultScenarios({
          size: values.short ? SHORT : FULL,
          scenarios,
          dataDir: values['data-dir'] ?? join(ROOT, '.titan-chaos'),
          log,
          ...(env.TITAN_CHAOS_REDIS_URL && env.TITAN_CHAOS_DATABASE_URL
            ? { external: { redisUrl: env.TITAN_CHAOS_REDIS_URL, databaseUrl: env.TITAN_CHAOS_DATABASE_URL } }
            : {}),
        });
  const lines = results.length ? [faultTable(results)] : [];
  let clusterOk = true;
  let clusterReport: ClusterFailoverReport | undefined;
  if (asked.includes(CLUSTER_FAILOVER)) {
    clusterReport = await clusterFailover({
      rounds: values.short ? 1 : 3,
      seconds: values.short ? 8 : 15,
      concurrency: 16,
      log,
    });
    // With WAIT, no acknowledged purchase may be lost; without it, the loss is what the run measures.
    clusterOk = clusterReport.runs.every((r) => !r.wait || r.acknowledgedLost === 0);
    lines.push('', clusterFailoverLines(clusterReport));
  }
  let fuzzOk = true;
  if (fuzzSeconds > 0) {
    const fuzz = await runFuzzChaos({ seconds: fuzzSeconds, print: false });
    const v = fuzz.violations;
    fuzzOk = v.fiveXX + v.noCode + v.stateChanges + v.crashes + v.hangs === 0;
    lines.push('', fuzzLine(fuzz));
  }
  const text = lines.join('\n');
  console.log(text);
  // Only a full run of everything is the record; a subset or the short sizes are not.
  if (!values.short && values.scenarios === undefined) {
    const dir = join(ROOT, 'deploy', 'chaos', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'latest.md'), `# Latest chaos run (${new Date().toISOString()})\n\n${text}\n`);
    writeFileSync(
      join(dir, 'latest.json'),
      `${JSON.stringify({ results, clusterFailover: clusterReport }, null, 2)}\n`,
    );
  }
  return results.every((r) => r.passed) && fuzzOk && clusterOk ? 0 : 1;
}

if (process.argv[1]?.endsWith('deploy/chaos/run.ts')) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
