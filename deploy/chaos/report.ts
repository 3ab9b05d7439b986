/** The chaos run's table of figures, one row per scenario, in Markdown (it reads the same in a terminal). */
import type { FuzzReport } from '../../edge/test/fuzz/report.ts';
import type { ScenarioResult } from './scenarios.ts';

const n = (v: number) => v.toLocaleString('en-US');
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function faultTable(results: readonly ScenarioResult[]): string {
  const rows = [
    '| scenario | attempts | 200 | final answers | oversold | above limit | acknowledged-lost | events missing / duplicated | ledger | recovery | verdict |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |',
  ];
  for (const r of results) {
    const c = r.check;
    rows.push(
      `| ${r.scenario} | ${n(r.attempts)} | ${n(r.acknowledged)} | ${n(r.answered)} | ${c.oversold} | ${c.usersAboveLimit} | ${c.acknowledgedLost} | ${c.eventsMissing} / ${c.eventsDuplicated} | ${c.ledgerBalanced ? 'balanced' : 'NOT balanced'} | ${r.recoveryMs === null ? 'not recovered' : `${n(r.recoveryMs)} ms`} | ${r.passed ? 'held' : `FAILED: ${r.failures.slice(0, 3).join('; ')}`} |`,
    );
  }
  const blast = results.find((r) => r.scenario === 'shard-failover')?.blast;
  if (blast) {
    rows.push(
      '',
      `Shard failure blast radius: ${pct(blast.affectedUserShare)} of buyers live in the stopped shard's cells; ` +
        `the edge noticed in ${blast.detectionMs ?? '?'} ms, after which ${pct(blast.affectedUnavailableShare)} of their tries were answered 503 CELL_UNAVAILABLE ` +
        `(${pct(blast.affectedCoded503Share)} of their failed tries in the outage were coded 503s with Retry-After); ` +
        `the other buyers' final-answer rate was ${pct(blast.othersRateBefore)} before and ${pct(blast.othersRateDuring)} during the outage; ` +
        `after \`titan cells failover\` the affected buyers' rate was ${pct(blast.affectedRateAfter)} (served by the backup cells). ` +
        `Buyers holding more than the per-user limit over their failed cell and its backup: ${blast.usersAboveLimitAcrossFailover}.`,
    );
  }
  const master = results.find((r) => r.scenario === 'cluster-master-kill');
  if (master?.blast) {
    const b = master.blast;
    rows.push(
      '',
      `Redis Cluster master killed behind the edge: ${pct(b.affectedUserShare)} of buyers live in its cells; its replica took over in ` +
        `${n(Number(master.fault.notes.takeoverMs))} ms and the killed node was back as a replica ${n(master.fault.endMs - master.fault.startMs)} ms after the kill ` +
        `(${pct(b.affectedCoded503Share)} of the affected buyers' failed tries were coded 503s with Retry-After; their rate afterwards ${pct(b.affectedRateAfter)}); ` +
        `the other buyers got ${n(b.othersFailedDuring)} fault answers during the outage (rate ${pct(b.othersRateBefore)} before, ${pct(b.othersRateDuring)} during), ` +
        `and ${n(b.othersRefillsDuring)} BUSY quota_refill while the failed cells' backlog drew on the pool.`,
    );
  }
  const relay = results.find((r) => r.scenario === 'relay-kill');
  if (relay)
    rows.push(
      '',
      `Relay killed for ${relay.fault.notes.relayDownMs} ms: caught up ${n(Number(relay.fault.notes.relayCatchUpMs))} ms after its restart.`,
    );
  const aof = ['redis-restart-everysec', 'redis-restart-always'].map((s) =>
    results.find((r) => r.scenario === s),
  );
  if (aof[0] && aof[1]) {
    rows.push(
      '',
      `AOF fsync policy on a kill -9 of a shard: everysec lost ${aof[0].check.acknowledgedLost} acknowledged reservations and served ${n(Math.round(aof[0].throughput ?? 0))} purchases/s; ` +
        `always lost ${aof[1].check.acknowledgedLost} and served ${n(Math.round(aof[1].throughput ?? 0))} purchases/s (${pct((aof[1].throughput ?? 0) / (aof[0].throughput ?? 1))} of everysec's).`,
    );
  }
  return rows.join('\n');
}

export function fuzzLine(f: FuzzReport): string {
  const v = f.violations;
  return (
    `Hostile input (${Math.round(f.seconds)} s, seed ${f.seed}): ${n(f.http.requests)} HTTP requests, ${n(f.socket.cases)} raw-socket cases, ` +
    `${n(f.ws.connections)} WebSocket connections; 5xx ${v.fiveXX}, rejections without a code ${v.noCode}, ` +
    `state changed by a rejection ${v.stateChanges}, crashes ${v.crashes}, hangs ${v.hangs}.`
  );
}
