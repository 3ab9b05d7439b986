/**
 * A Redis Cluster master killed (-9) during a flash sale under load, with and without `WAIT 1` after each
 * purchase batch (EngineOptions.replicaWait): how many purchases the engine answered "reserved" are missing
 * after the replica took over, what WAIT costs in throughput, how long the failed slots were unavailable, and
 * whether any cell on another master saw a failure.
 *
 * The engine runs in this process on a private cluster (3 masters + 3 replicas, cluster-node-timeout 2 s),
 * with a sale open in 6 cells spread over the masters; buyers retry `retry`/`busy` answers with the same key.
 * After each run the killed node is started again (it rejoins as a replica) before the next.
 */
import type { Cluster } from 'ioredis';
import { type CellMap, CellRouter, DEFAULT_POOLS, generateMap, slotOf } from '../../cells/index.ts';
import { createEngine, DEFAULT_REPLICA_WAIT, type Engine } from '../../engine/index.ts';
import { configureSaleCell, createSale } from '../../lua/admin.ts';
import { saleCellKeys } from '../../lua/keys.ts';
import { createScripts } from '../../lua/loader.ts';
import { transferQuota } from '../../lua/quota-transfer.ts';
import { masterPortOfSlot, type PrivateCluster, startPrivateCluster } from '../../lua/test-support.ts';
import { createLogger, createMetrics } from '../../services/kit/index.ts';
import { waitFor } from '../local/os-tools.ts';

export interface ClusterFailoverRun {
  wait: boolean;
  attempts: number;
  acknowledged: number;
  /** Acknowledged ("reserved") purchases whose reservation is missing after the failover. */
  acknowledgedLost: number;
  /** Reserved answers per second before the kill. */
  throughput: number;
  /** From the kill to the first purchase reserved again in a cell of the killed master. */
  unavailableMs: number | null;
  /** Non-final answers (retry / busy) in cells of the surviving masters while the failover ran. */
  otherCellsFailures: number;
  /** Those answers by `status` or `retry:<reason>`. */
  otherCellsAnswers: Record<string, number>;
  /** Answers the failed cells got while unavailable, by status (retry, busy: what the edge turns into a coded 503). */
  failedCellAnswers: Record<string, number>;
}

const CELLS = 6;

async function openSale(client: Cluster, map: CellMap, saleId: string): Promise<void> {
  const scripts = createScripts(client);
  const now = Date.now();
  await createSale(client, { saleId, initial: 10_000_000 });
  for (const cell of map.cells) {
    await configureSaleCell(client, {
      cell: String(cell.id),
      saleId,
      startsAt: now - 1000,
      endsAt: now + 3600_000,
      perUserLimit: 1000,
      reservationTtlMs: 3600_000,
    });
    await transferQuota(scripts, {
      saleId,
      transferId: `init-${cell.id}`,
      amount: 1_000_000,
      from: 'pool',
      to: { cell: String(cell.id) },
      now,
    });
  }
}

/** One run: `seconds` of load, the master of cell 0's slot killed at 40%. */
export async function clusterFailoverRun(
  cluster: PrivateCluster,
  options: { wait: boolean; seconds: number; concurrency: number; log: (m: string) => void },
): Promise<ClusterFailoverRun> {
  const client = cluster.client();
  const map = generateMap({
    cells: CELLS,
    shards: 1,
    name: 'cluster-failover',
    redis: () => ({ cluster: [...cluster.seeds] }),
    postgres: () => 'postgres://titan@127.0.0.1:1/unused',
    // One thread per cell, started before the clock runs: six threads already share two cores here, and a
    // thread started mid-run (pool growth, or a replacement) spends seconds loading before it serves.
    pools: {
      ...DEFAULT_POOLS,
      flashSale: { ...DEFAULT_POOLS.flashSale, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 8 },
    },
  });
  const engine: Engine = createEngine({
    map: new CellRouter(map),
    logger: createLogger({ name: 'cluster-failover', level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    replicaWait: { replicas: options.wait ? 1 : 0, timeoutMs: DEFAULT_REPLICA_WAIT.timeoutMs },
    taskTimeoutMs: 3000,
  });
  const saleId = `cf${Date.now().toString(36)}${options.wait ? 'w' : 'n'}`;
  // Set when the run fails part-way: the buyers' loops stop before the engine closes under them.
  let stopped = false;
  let load: Promise<unknown> = Promise.resolve();
  try {
    await openSale(client, map, saleId);
    const victimPort = await masterPortOfSlot(client, slotOf('c0'));
    const masterOf = new Map<number, number>();
    for (const c of map.cells) masterOf.set(c.id, await masterPortOfSlot(client, slotOf(`c${c.id}`)));
    const victimCells = new Set([...masterOf].filter(([, port]) => port === victimPort).map(([c]) => c));
    // Warm-up: every cell's worker thread started and answering before the clock runs.
    await waitFor(
      'every cell to reserve',
      async () => {
        const outs = await Promise.all(
          map.cells.map((c) =>
            engine.flashSale(c.id, {
              saleId,
              userId: 'warm-up',
              quantity: 1,
              idempotencyKey: `${saleId}-warm-${c.id}`,
              at: Date.now(),
            }),
          ),
        );
        return outs.every((o) => o.status === 'reserved' || o.status === 'duplicate');
      },
      60_000,
    );
    const acks: { cell: number; rid: string; user: string }[] = [];
    const failedCellAnswers: Record<string, number> = {};
    let otherCellsFailures = 0;
    const otherCellsAnswers: Record<string, number> = {};
    let attempts = 0;
    let killedAt = 0;
    let backAt = 0;
    let acksBeforeKill = 0;
    const started = Date.now();
    const end = started + options.seconds * 1000;
    let seq = 0;
    const loop = async () => {
      while (Date.now() < end && !stopped) {
        const n = ++seq;
        const cell = n % CELLS;
        const userId = `u${n % 5000}`;
        const key = `${saleId}-${n}`;
        attempts++;
        // An attempt retries until answered, but never past 30 s after the load's end (then it counts as unanswered).
        while (Date.now() < end + 30_000 && !stopped) {
          const sentAt = Date.now();
          const out = await engine.flashSale(cell, {
            saleId,
            userId,
            quantity: 1,
            idempotencyKey: key,
            at: sentAt,
          });
          const o = out.status === 'duplicate' ? out.original : out;
          if (o.status === 'reserved') {
            acks.push({ cell, rid: o.reservationId, user: userId });
            // Back: a request SENT after the kill was reserved in a cell of the killed master.
            if (killedAt && sentAt > killedAt && !backAt && victimCells.has(cell)) backAt = Date.now();
            break;
          }
          if (o.status !== 'retry' && o.status !== 'busy') break;
          if (killedAt && !backAt) {
            if (victimCells.has(cell)) failedCellAnswers[o.status] = (failedCellAnswers[o.status] ?? 0) + 1;
            else {
              otherCellsFailures++;
              const k = o.status === 'retry' ? `retry:${o.reason}` : o.status;
              otherCellsAnswers[k] = (otherCellsAnswers[k] ?? 0) + 1;
            }
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    load = Promise.all(Array.from({ length: options.concurrency }, loop));
    await new Promise((r) => setTimeout(r, options.seconds * 400));
    acksBeforeKill = acks.length;
    const pid = cluster.server.pidOf(victimPort);
    if (pid === undefined) throw new Error(`no pid for the master on port ${victimPort}`);
    killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    options.log(`killed the master on port ${victimPort} (cells ${[...victimCells].join(',')})`);
    // As an orchestrator would: once the replica has taken over the slot, the dead node is started again and
    // rejoins as the new master's replica (until then, with WAIT on, the new master's writes cannot be confirmed).
    // cluster_state stays ok all along (cluster-require-full-coverage no): the slot's owner is what changes.
    const takenOver = async () => {
      try {
        return (await masterPortOfSlot(client, slotOf('c0'))) !== victimPort;
      } catch {
        return false;
      }
    };
    await waitFor('the replica to take over', takenOver, 30_000);
    options.log(`the replica took over ${Date.now() - killedAt} ms after the kill`);
    await cluster.server.start();
    options.log(`restarted the node on port ${victimPort} ${Date.now() - killedAt} ms after the kill`);
    await load;
    const throughput = acksBeforeKill / ((killedAt - started) / 1000);
    let acknowledgedLost = 0;
    for (const a of acks) {
      const record = await client.hget(saleCellKeys(String(a.cell), saleId).reservations, a.rid);
      if (!record || record.split('|')[1] !== a.user) acknowledgedLost++;
    }
    return {
      wait: options.wait,
      attempts,
      acknowledged: acks.length,
      acknowledgedLost,
      throughput,
      unavailableMs: backAt ? backAt - killedAt : null,
      otherCellsFailures,
      otherCellsAnswers,
      failedCellAnswers,
    };
  } finally {
    stopped = true;
    await load.catch(() => {});
    await engine.close();
    client.disconnect();
  }
}

export interface ClusterFailoverReport {
  runs: ClusterFailoverRun[];
}

/** `rounds` runs with WAIT and `rounds` without, alternating, on one private cluster. */
export async function clusterFailover(options: {
  rounds: number;
  seconds: number;
  concurrency: number;
  log: (m: string) => void;
}): Promise<ClusterFailoverReport> {
  const cluster = await startPrivateCluster();
  try {
    const runs: ClusterFailoverRun[] = [];
    for (let i = 0; i < options.rounds; i++) {
      for (const wait of [true, false]) {
        const r = await clusterFailoverRun(cluster, { ...options, wait });
        options.log(`cluster failover, WAIT ${wait ? 'on' : 'off'}: ${JSON.stringify(r)}`);
        runs.push(r);
      }
    }
    return { runs };
  } finally {
    await cluster.stop();
  }
}

export function clusterFailoverLines(report: ClusterFailoverReport): string {
  const sum = (wait: boolean, f: (r: ClusterFailoverRun) => number) =>
    report.runs.filter((r) => r.wait === wait).reduce((a, r) => a + f(r), 0);
  const n = (wait: boolean) => report.runs.filter((r) => r.wait === wait).length;
  const mean = (wait: boolean, f: (r: ClusterFailoverRun) => number) => sum(wait, f) / Math.max(1, n(wait));
  const rows = [
    "| Redis Cluster master kill -9 | runs | acknowledged | acknowledged-lost | reserved/s before the kill | failed slots unavailable (mean) | failures in other masters' cells |",
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const wait of [true, false]) {
    rows.push(
      `| ${wait ? `\`WAIT 1 ${DEFAULT_REPLICA_WAIT.timeoutMs}\` after each batch (default)` : 'no WAIT'} | ${n(wait)} | ${sum(wait, (r) => r.acknowledged).toLocaleString('en-US')} | ${sum(wait, (r) => r.acknowledgedLost)} | ${Math.round(mean(wait, (r) => r.throughput)).toLocaleString('en-US')} | ${Math.round(mean(wait, (r) => r.unavailableMs ?? 0)).toLocaleString('en-US')} ms | ${sum(wait, (r) => r.otherCellsFailures)} |`,
    );
  }
  return rows.join('\n');
}
