/**
 * The fault scenarios: each runs a fresh flash sale under load on the rig (buyers in every cell, through
 * both edge processes), inflicts its fault part-way through, then checks what must hold (checks.ts) and
 * measures recovery from the answers' timeline.
 */
import { CellRouter } from '../../cells/index.ts';
import { createSale } from '../../native-bench/lib/platform.ts';
import type { BenchUser } from '../../native-bench/lib/users.ts';
import { BUCKET_MS, type Bucket, type LoadOutcome, startLoad } from './buyers.ts';
import { type CheckResult, checkSale } from './checks.ts';
import {
  crashRestartShard,
  type FaultWindow,
  killClusterMaster,
  killEdge,
  killRelay,
  killWorkers,
  restoreShard,
  stopShardThenFailover,
} from './faults.ts';
import { type AppendFsync, type ChaosRig, ClusterShard, type RigShard, Shard } from './rig.ts';

export const SCENARIOS = [
  'worker-kill',
  'edge-kill',
  'redis-restart-everysec',
  'redis-restart-always',
  'relay-kill',
  'shard-failover',
  'cluster-master-kill',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** Scenarios that need the rig's second shard to be a Redis Cluster (ChaosRigOptions.clusterShard). */
export const CLUSTER_RIG_SCENARIOS: readonly ScenarioName[] = ['cluster-master-kill'];

export interface ScenarioSize {
  /** Buyers (each makes `attemptsPerUser` purchases of one unit, each with its own key). */
  users: number;
  attemptsPerUser: number;
  connections: number;
  perUserLimit: number;
  /** Stock as a fraction of the attempts (each buyer can take at most perUserLimit / attemptsPerUser). */
  stockFraction: number;
  /** Attempts started per second. */
  ratePerSecond: number;
  /** The fault begins once this fraction of the attempts has started. */
  faultAt: number;
  /** How long a stopped shard stays down before the operator fails its cells over. */
  outageMs: number;
  /** Unpaced attempts that measure throughput under each AOF fsync policy. */
  throughputAttempts: number;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  attempts: number;
  answered: number;
  abandoned: number;
  acknowledged: number;
  finals: Record<string, number>;
  retries: Record<string, number>;
  /** Retried answers by `code:reason`, where the answer gave one. */
  retryReasons: Record<string, number>;
  /** redis-restart-* only: unpaced purchases answered per second with the scenario's fsync policy. */
  throughput?: number;
  /** ms from the end of the fault until the answers were back to normal; null if the run ended first. */
  recoveryMs: number | null;
  fault: FaultWindow;
  check: CheckResult;
  /** shard-failover and cluster-master-kill: how the outage was confined. */
  blast?: {
    affectedUserShare: number;
    /** ms from stopping the shard to the first 503 CELL_UNAVAILABLE (the edge's shard health check). */
    detectionMs: number | null;
    /** Among tries by users of the stopped shard's cells once detected: share answered 503 CELL_UNAVAILABLE. */
    affectedUnavailableShare: number;
    /** Among their failed tries during the whole outage: share answered with a coded 503 (never a bare 5xx). */
    affectedCoded503Share: number;
    /**
     * Other users' final-answer rate before and during the outage: final answers / tries, leaving out the
     * tries answered BUSY quota_refill (the rebalancer's allocation; counted in othersRefillsDuring).
     */
    othersRateBefore: number;
    othersRateDuring: number;
    /** Other users' tries answered with a retry other than quota_refill (503, 429, ...) during the outage. */
    othersFailedDuring: number;
    /** Other users' tries answered BUSY quota_refill during the outage. */
    othersRefillsDuring: number;
    /** Affected users' final-answer rate after the failover (quota_refill answers left out, as above). */
    affectedRateAfter: number;
    /** Users of the failed-over cells holding more than the limit over both cells (see README, Limits). */
    usersAboveLimitAcrossFailover: number;
  };
  /** Whether every invariant held. */
  passed: boolean;
  failures: string[];
}

const sum = (
  series: Bucket[] | undefined,
  fromMs: number,
  toMs: number,
  f: (b: Bucket) => number,
): number => {
  let n = 0;
  const from = Math.floor(fromMs / BUCKET_MS);
  const to = Math.ceil(toMs / BUCKET_MS);
  for (let i = from; i < to && series && i < series.length; i++) n += f(series[i]!);
  return n;
};

/** Final answers / all tries in a window (1 when there were no tries). */
function finalRate(series: Bucket[] | undefined, fromMs: number, toMs: number): number {
  const final = sum(series, fromMs, toMs, (b) => b.final);
  const tries = final + sum(series, fromMs, toMs, (b) => b.failed);
  return tries === 0 ? 1 : final / tries;
}

/** finalRate without the tries answered BUSY quota_refill: how a fault, not the sale's allocation, was felt. */
function faultFreeRate(series: Bucket[] | undefined, fromMs: number, toMs: number): number {
  const final = sum(series, fromMs, toMs, (b) => b.final);
  const tries = final + sum(series, fromMs, toMs, (b) => b.failed - b.refill);
  return tries === 0 ? 1 : final / tries;
}

function merged(outcome: LoadOutcome): Bucket[] {
  const out: Bucket[] = [];
  for (const series of outcome.timeline.values()) {
    series.forEach((b, i) => {
      if (!out[i]) out[i] = { final: 0, ok: 0, failed: 0, unavailable: 0, refill: 0, coded503: 0 };
      const m = out[i]!;
      m.final += b.final;
      m.ok += b.ok;
      m.failed += b.failed;
      m.unavailable += b.unavailable;
      m.refill += b.refill;
      m.coded503 += b.coded503;
    });
  }
  return out;
}

/**
 * Recovery: the time from the end of the fault to the start of the first full second whose final-answer
 * rate is back to at least the pre-fault rate minus one point (the sold-out rebalancing makes a few BUSY
 * answers normal).
 */
function recoveryMs(series: Bucket[], fault: FaultWindow): number | null {
  const threshold = Math.min(0.99, finalRate(series, 0, fault.startMs) - 0.01);
  const window = 1000;
  const loadEnd = series.length * BUCKET_MS;
  // A fault that outlasted the load (a slow restart of a process purchases never wait for): judge the last second.
  if (fault.endMs >= loadEnd) return finalRate(series, loadEnd - window, loadEnd) >= threshold ? 0 : null;
  // The last window may be shorter than a second when the load ends soon after the fault.
  for (let t = Math.floor(fault.endMs / BUCKET_MS) * BUCKET_MS; t < loadEnd; t += BUCKET_MS) {
    if (finalRate(series, t, Math.min(t + window, loadEnd)) >= threshold) return Math.max(0, t - fault.endMs);
  }
  return null;
}

/** Unpaced purchases on a sale of their own that cannot sell out: answers per second. */
async function measureThroughput(
  rig: ChaosRig,
  buyers: BenchUser[],
  attempts: number,
  tag: string,
): Promise<number> {
  const per = Math.ceil(attempts / buyers.length);
  const saleId = await createSale(rig.edgeUrl, rig.operatorToken, {
    stock: attempts * 2,
    perUserLimit: Math.min(100, per + 1),
    title: `chaos throughput ${tag}`,
  });
  const load = startLoad({
    base: rig.edgeUrl,
    saleId,
    users: buyers,
    attemptsPerUser: per,
    connections: 64,
    keyPrefix: `chaos-tp-${tag}-${Date.now().toString(36)}`,
  });
  const out = await load.done;
  return out.answered / (out.durationMs / 1000);
}

/**
 * Purchases per second under each AOF fsync policy, measured in alternation after a warm-up run (the
 * machine's noise then hits both alike); the median of `rounds` runs each.
 */
export async function measureAofThroughput(
  rig: ChaosRig,
  buyers: BenchUser[],
  attempts: number,
  rounds = 3,
): Promise<Record<AppendFsync, number>> {
  await measureThroughput(rig, buyers, attempts, 'warm-up');
  const runs: Record<AppendFsync, number[]> = { everysec: [], always: [] };
  for (let i = 0; i < rounds; i++) {
    for (const policy of ['everysec', 'always'] as const) {
      for (const s of rig.shards) await s.client.config('SET', 'appendfsync', policy);
      runs[policy].push(await measureThroughput(rig, buyers, attempts, `${policy}-${i}`));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { everysec: median(runs.everysec), always: median(runs.always) };
}

export async function runScenario(
  rig: ChaosRig,
  scenario: ScenarioName,
  users: BenchUser[],
  size: ScenarioSize,
  log: (msg: string) => void,
  aofThroughput?: Record<AppendFsync, number>,
): Promise<ScenarioResult> {
  const attempts = size.users * size.attemptsPerUser;
  const stock = Math.max(1, Math.floor(attempts * size.stockFraction));
  const buyers = users.slice(0, size.users);
  const policy: AppendFsync = scenario === 'redis-restart-always' ? 'always' : 'everysec';
  for (const s of singleShards(rig)) await s.client.config('SET', 'appendfsync', policy);
  const throughput = scenario.startsWith('redis-restart') ? aofThroughput?.[policy] : undefined;
  const saleId = await createSale(rig.edgeUrl, rig.operatorToken, {
    stock,
    perUserLimit: size.perUserLimit,
    title: `chaos ${scenario}`,
  });
  const router = new CellRouter(rig.map);
  // The shard to stop (the master to kill) is one NOT holding the sale's pool: the pool's shard is the one
  // dependency every cell shares for top-ups (README, Limits), so failing it is a different experiment.
  const poolCell = router.cellOf(saleId);
  const poolShard = rig.shardOfCell(poolCell);
  const failShard = rig.shards.find((s) => s !== poolShard)!;
  const victim = scenario === 'cluster-master-kill' ? await clusterVictim(rig, poolCell) : undefined;
  const affectedCells = new Set(victim?.cells ?? rig.cellsOn(failShard.id));
  const affected = (u: number) => affectedCells.has(router.route(buyers[u]!.userId));
  const blastScenario = scenario === 'shard-failover' || scenario === 'cluster-master-kill';
  // The cluster rig's first run: its edge processes start their worker threads on first use (a dozen each,
  // seconds on a loaded 2-core machine). Warm them on a sale of their own, so the rates before the fault
  // are the platform's, not its start-up's.
  if (scenario === 'cluster-master-kill') await measureThroughput(rig, buyers, 600, 'warm-up');
  log(
    `${scenario}: sale ${saleId}, ${attempts} attempts by ${buyers.length} buyers at ${size.ratePerSecond}/s, stock ${stock}`,
  );
  const load = startLoad({
    base: rig.edgeUrl,
    saleId,
    users: buyers,
    attemptsPerUser: size.attemptsPerUser,
    connections: size.connections,
    ratePerSecond: size.ratePerSecond,
    keyPrefix: `chaos-${scenario}-${Date.now().toString(36)}`,
    ...(blastScenario ? { groupOf: (u: number) => (affected(u) ? 'affected' : 'other') } : {}),
  });
  await load.reached(size.faultAt);
  let fault: FaultWindow;
  switch (scenario) {
    case 'worker-kill':
      fault = await killWorkers(rig, load.now, 12, 250);
      break;
    case 'edge-kill':
      fault = await killEdge(rig, load.now);
      break;
    case 'redis-restart-everysec':
    case 'redis-restart-always':
      fault = await crashRestartShard(single(poolShard), load.now, policy);
      break;
    case 'relay-kill':
      fault = await killRelay(rig, load.now);
      break;
    case 'shard-failover':
      fault = await stopShardThenFailover(rig, single(failShard), load.now, size.outageMs);
      break;
    case 'cluster-master-kill':
      fault = await killClusterMaster(victim!.shard, victim!.port, victim!.cells[0]!, load.now);
      break;
  }
  log(`${scenario}: fault from ${fault.startMs} ms to ${fault.endMs} ms ${JSON.stringify(fault.notes)}`);
  const outcome = await load.done;
  if (scenario === 'shard-failover') await restoreShard(single(failShard));
  const check = await checkSale(rig, {
    saleId,
    stock,
    perUserLimit: size.perUserLimit,
    users: buyers,
    acknowledged: outcome.acknowledged,
  });
  const all = merged(outcome);
  const result: ScenarioResult = {
    scenario,
    attempts,
    answered: outcome.answered,
    abandoned: outcome.abandoned,
    acknowledged: outcome.acknowledged.length,
    finals: outcome.finals,
    retries: outcome.retries,
    retryReasons: outcome.retryReasons,
    ...(throughput === undefined ? {} : { throughput }),
    recoveryMs: recoveryMs(all, fault),
    fault,
    check,
    passed: true,
    failures: [],
  };
  if (blastScenario) {
    // The outage: until the operator's failover (a stopped shard), or until the promoted replica serves and
    // the edge follows it (a killed cluster master).
    const failoverAt =
      scenario === 'shard-failover'
        ? Number(fault.notes.failoverAtMs)
        : fault.endMs + (result.recoveryMs ?? outcome.durationMs);
    const a = outcome.timeline.get('affected');
    const o = outcome.timeline.get('other');
    const first = a?.findIndex((b, i) => i * BUCKET_MS >= fault.startMs && b.unavailable > 0) ?? -1;
    const detectedAt = first < 0 ? null : first * BUCKET_MS;
    const triesAfterDetection = sum(a, detectedAt ?? failoverAt, failoverAt, (b) => b.final + b.failed);
    const failedDuring = sum(a, fault.startMs, failoverAt, (b) => b.failed);
    result.blast = {
      affectedUserShare: buyers.filter((_, u) => affected(u)).length / buyers.length,
      detectionMs: detectedAt === null ? null : Math.max(0, detectedAt - fault.startMs),
      affectedUnavailableShare:
        triesAfterDetection === 0
          ? 0
          : sum(a, detectedAt ?? failoverAt, failoverAt, (b) => b.unavailable) / triesAfterDetection,
      affectedCoded503Share:
        failedDuring === 0 ? 1 : sum(a, fault.startMs, failoverAt, (b) => b.coded503) / failedDuring,
      othersRateBefore: faultFreeRate(o, 0, fault.startMs),
      othersRateDuring: faultFreeRate(o, fault.startMs, failoverAt),
      othersFailedDuring: sum(o, fault.startMs, failoverAt, (b) => b.failed - b.refill),
      othersRefillsDuring: sum(o, fault.startMs, failoverAt, (b) => b.refill),
      affectedRateAfter: faultFreeRate(a, fault.endMs + (result.recoveryMs ?? 0), outcome.durationMs),
      usersAboveLimitAcrossFailover: check.usersAboveLimit,
    };
  }
  judge(result);
  if (!result.passed || blastScenario)
    log(`${scenario}: answers per second, final/failed:\n${timelineText(outcome)}`);
  return result;
}

/** Per group, one `final/failed` pair per second: what a failed run is read from. */
function timelineText(outcome: LoadOutcome): string {
  const lines: string[] = [];
  for (const [group, series] of outcome.timeline) {
    const seconds: string[] = [];
    const per = Math.round(1000 / BUCKET_MS);
    for (let i = 0; i < series.length; i += per) {
      const chunk = series.slice(i, i + per);
      seconds.push(`${chunk.reduce((a, b) => a + b.final, 0)}/${chunk.reduce((a, b) => a + b.failed, 0)}`);
    }
    lines.push(`  ${group}: ${seconds.join(' ')}`);
  }
  return lines.join('\n');
}

function single(shard: RigShard): Shard {
  if (shard instanceof Shard) return shard;
  throw new Error(`shard ${shard.id} is a Redis Cluster: this fault needs a single-server shard`);
}

function singleShards(rig: ChaosRig): Shard[] {
  return rig.shards.filter((s): s is Shard => s instanceof Shard);
}

/**
 * The master to kill for cluster-master-kill: on the rig's cluster shard, the master serving the most of its
 * cells, other than the one serving the sale's pool.
 */
async function clusterVictim(
  rig: ChaosRig,
  poolCell: number,
): Promise<{ shard: ClusterShard; port: number; cells: number[] }> {
  const shard = rig.shards.find((s): s is ClusterShard => s instanceof ClusterShard);
  if (!shard) throw new Error('cluster-master-kill needs a rig whose shard s1 is a Redis Cluster');
  const poolPort = rig.shardOfCell(poolCell) === shard ? await shard.masterPortOf(poolCell) : undefined;
  const byPort = new Map<number, number[]>();
  for (const cell of rig.cellsOn(shard.id)) {
    const port = await shard.masterPortOf(cell);
    if (port !== poolPort) byPort.set(port, [...(byPort.get(port) ?? []), cell]);
  }
  const [port, cells] = [...byPort].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
  if (port === undefined || !cells)
    throw new Error('no master of the cluster shard serves a cell without the pool');
  return { shard, port, cells };
}

function judge(r: ScenarioResult): void {
  const c = r.check;
  const fail = (what: string) => {
    r.passed = false;
    r.failures.push(what);
  };
  if (c.oversold !== 0) fail(`oversold ${c.oversold}`);
  if (c.acknowledgedLost !== 0) fail(`acknowledged and lost ${c.acknowledgedLost}`);
  if (c.eventsMissing !== 0) fail(`acknowledged without an event ${c.eventsMissing}`);
  if (c.eventsDuplicated !== 0) fail(`reservations with two events ${c.eventsDuplicated}`);
  if (!c.ledgerBalanced) fail('ledger does not balance');
  if (r.abandoned !== 0) fail(`${r.abandoned} attempts never got a final answer`);
  if (r.recoveryMs === null) fail('answers did not return to normal before the run ended');
  // A failover serves a dead cell's users from a backup that cannot see what they bought there: the
  // per-user limit then holds per serving cell (README, Limits). Everywhere else it holds outright.
  if (r.scenario !== 'shard-failover' && c.usersAboveLimit !== 0)
    fail(`${c.usersAboveLimit} users above the limit`);
  if (r.blast) {
    if (r.scenario === 'shard-failover' && r.blast.affectedUnavailableShare < 0.9)
      fail('users of the stopped shard were not answered CELL_UNAVAILABLE');
    if (r.blast.affectedCoded503Share < 1)
      fail('some failed tries of the affected users were not coded 503s');
    if (r.blast.othersRateDuring < r.blast.othersRateBefore - 0.02)
      fail('other users were hurt by the outage');
    if (r.blast.affectedRateAfter < 0.95)
      fail(
        r.scenario === 'shard-failover'
          ? 'the failed-over users were not served by the backup'
          : "the killed master's users were not served again by its replica",
      );
  }
  for (const p of c.problems) r.failures.push(p);
}
