/**
 * The faults, each as an operator (or the kernel) would inflict it on the rig's real processes. Each
 * returns when the fault is over (the thing killed is back or replaced, or the operator's remedy applied)
 * and says what it measured on the way.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { OPERATOR, ROOT } from '../../native-bench/lib/stack.ts';
import { portOpen, waitFor } from '../local/os-tools.ts';
import { waitForRelay } from './checks.ts';
import type { AppendFsync, ChaosRig, ClusterShard, Shard } from './rig.ts';

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FaultWindow {
  /** Rig clock (the load's `now()`) when the fault began and when it was over. */
  startMs: number;
  endMs: number;
  notes: Record<string, number | string>;
}

/** SIGUSR2 to the edge processes in turn (TITAN_CHAOS_HOOKS): each kills one busy flash-sale worker thread. */
export async function killWorkers(
  rig: ChaosRig,
  clock: () => number,
  kills: number,
  everyMs: number,
): Promise<FaultWindow> {
  const startMs = clock();
  for (let i = 0; i < kills; i++) {
    const pids = rig.edgePids();
    const pid = pids[i % pids.length];
    if (pid !== undefined) process.kill(pid, 'SIGUSR2');
    await sleep(everyMs);
  }
  return { startMs, endMs: clock(), notes: { workersKilled: kills } };
}

/** SIGKILL one edge process; over when the supervisor's replacement is serving. */
export async function killEdge(rig: ChaosRig, clock: () => number): Promise<FaultWindow> {
  const [victim, survivor] = rig.edgePids();
  if (victim === undefined || survivor === undefined) throw new Error('the rig needs two edge processes');
  const startMs = clock();
  process.kill(victim, 'SIGKILL');
  await waitFor(
    'a replacement edge process',
    async () => {
      const pids = rig.edgePids();
      return pids.length === 2 && !pids.includes(victim);
    },
    30_000,
  );
  return { startMs, endMs: clock(), notes: { killedPid: victim } };
}

function pidOf(shard: Shard): number {
  return Number(readFileSync(shard.pidFile, 'utf8').trim());
}

/**
 * kill -9 a shard's Redis, start it again from its AOF, and put the fsync policy back (CONFIG SET is not
 * in the AOF). Over when the server answers again.
 */
export async function crashRestartShard(
  shard: Shard,
  clock: () => number,
  policy: AppendFsync,
  downMs = 1000,
): Promise<FaultWindow> {
  const startMs = clock();
  process.kill(pidOf(shard), 'SIGKILL');
  await waitFor('the killed Redis to be gone', async () => !(await portOpen(shard.port)), 10_000);
  await sleep(downMs);
  await shard.server.start();
  await waitFor('the restarted Redis to load its AOF', async () => {
    try {
      return (await shard.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  });
  await shard.client.config('SET', 'appendfsync', policy);
  return { startMs, endMs: clock(), notes: { shard: shard.id, downMs } };
}

/** SIGKILL the events relay and start it again after `downMs`; over when it has caught up with every outbox. */
export async function killRelay(rig: ChaosRig, clock: () => number, downMs = 2000): Promise<FaultWindow> {
  const startMs = clock();
  rig.stack.processes.get('relay')?.child.kill('SIGKILL');
  await sleep(downMs);
  const restartedAt = Date.now();
  await rig.startRelay();
  // Purchases never wait for the relay: for them the fault is over once it runs again.
  const endMs = clock();
  await waitForRelay(rig, 60_000);
  return { startMs, endMs, notes: { relayDownMs: downMs, relayCatchUpMs: Date.now() - restartedAt } };
}

/** `titan cells failover <cell>` as an operator runs it: the CLI, through the edge's admin API. */
export async function titanFailover(rig: ChaosRig, cell: number): Promise<void> {
  await execFileAsync(
    process.execPath,
    [
      '--import',
      'tsx',
      'deploy/cli/titan.ts',
      '--edge',
      rig.edgeUrl,
      '--email',
      OPERATOR.email,
      '--password',
      OPERATOR.password,
      'cells',
      'failover',
      String(cell),
    ],
    { cwd: ROOT, timeout: 60_000 },
  );
}

/**
 * Stops a shard's Redis (its cells' users get 503 CELL_UNAVAILABLE), waits `outageMs`, then fails each of
 * its cells over to its backup with the CLI. Over when the edge serves the new map. The shard is started
 * again by `restoreShard` after the run, so the checks can read what it held.
 */
export async function stopShardThenFailover(
  rig: ChaosRig,
  shard: Shard,
  clock: () => number,
  outageMs: number,
): Promise<FaultWindow> {
  const cells = rig.cellsOn(shard.id);
  const startMs = clock();
  await shard.server.stop();
  await sleep(outageMs);
  const failoverAt = clock();
  for (const cell of cells) await titanFailover(rig, cell);
  rig.reloadMap();
  // Over when the operator's command is done; the edge processes pick the new map up from the file
  // (watched every second), which the recovery time includes.
  return {
    startMs,
    endMs: clock(),
    notes: { shard: shard.id, cells: cells.join(','), failoverAtMs: failoverAt },
  };
}

export async function restoreShard(shard: Shard): Promise<void> {
  await shard.server.start();
  await waitFor('the shard to answer', async () => (await shard.client.ping().catch(() => '')) === 'PONG');
}

/**
 * kill -9 the master on `port` of a cluster shard; once its replica serves the slot of `probeCell` (one of the
 * master's cells), the killed node is started again, as an orchestrator would, and rejoins as the new master's
 * replica. Over when that replica is in sync: until then the promoted master has no replica, so with WAIT on
 * (the default) its cells cannot confirm a purchase and answer coded 503s (README, Running on many machines).
 */
export async function killClusterMaster(
  shard: ClusterShard,
  port: number,
  probeCell: number,
  clock: () => number,
): Promise<FaultWindow> {
  const pid = shard.cluster.pidOf(port);
  if (pid === undefined) throw new Error(`no cluster node runs on port ${port}`);
  const startMs = clock();
  process.kill(pid, 'SIGKILL');
  await waitFor(
    'the replica to take over',
    async () => (await shard.masterPortOf(probeCell).catch(() => port)) !== port,
    30_000,
  );
  const tookOverAt = clock();
  await shard.cluster.start();
  return {
    startMs,
    endMs: clock(),
    notes: { shard: shard.id, killedPort: port, takeoverMs: tookOverAt - startMs },
  };
}
