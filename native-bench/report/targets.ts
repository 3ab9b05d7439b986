/** The issue's targets (reported, never pass/fail for the run), checked against one run's figures. */
import type { RunRecord } from '../lib/measure.ts';
import type { BenchDocument, TargetCheck } from './document.ts';

const f1 = (n: number) => n.toFixed(1);
const pick = (records: RunRecord[], where: Partial<RunRecord>) =>
  records.find((r) => Object.entries(where).every(([k, v]) => r[k as keyof RunRecord] === v));

export function checkTargets(doc: Pick<BenchDocument, 'records' | 'micro' | 'wsFanout'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  const recs = doc.records;
  for (const generator of ['wrk', 'autocannon'] as const) {
    const conns = [...new Set(recs.filter((r) => r.variant === 'reserve').map((r) => r.connections))];
    for (const connections of conns) {
      const where = { scenario: 'purchase', variant: 'reserve', generator, connections };
      const edge = pick(recs, { ...where, target: 'edge' });
      const peer = pick(recs, { ...where, target: 'fastify-peer' });
      if (!edge || !peer) continue;
      const gen = ` (${generator}, ${connections} conns)`;
      const ratio = edge.rps / peer.rps;
      out.push({
        scenario: 'purchase',
        target: `throughput >= 2.5x the Fastify peer${gen}`,
        measured: `${ratio.toFixed(2)}x (${Math.round(edge.rps)} vs ${Math.round(peer.rps)} req/s)`,
        met: ratio >= 2.5,
      });
      const cpuRatio = edge.cpu.totalUs / peer.cpu.totalUs;
      out.push({
        scenario: 'purchase',
        target: `CPU per purchase <= 30% of the peer's${gen}`,
        measured: `${Math.round(cpuRatio * 100)}% (${f1(edge.cpu.totalUs)} vs ${f1(peer.cpu.totalUs)} us)`,
        met: cpuRatio <= 0.3,
      });
      out.push({
        scenario: 'purchase',
        target: `<= 25 us CPU per purchase, all processes incl. Redis${gen}`,
        measured: `${f1(edge.cpu.totalUs)} us (Node ${f1(edge.cpu.nodeUs)} + Redis ${f1(edge.cpu.redisUs)} + PostgreSQL ${f1(edge.cpu.postgresUs)})`,
        met: edge.cpu.totalUs <= 25,
      });
      if (connections === 256) {
        out.push({
          scenario: 'purchase',
          target: `p99 no worse than the peer's and < 10 ms at 256 connections${gen}`,
          measured: `${edge.latencyMs.p99.toFixed(2)} ms vs peer ${peer.latencyMs.p99.toFixed(2)} ms`,
          met: edge.latencyMs.p99 <= peer.latencyMs.p99 && edge.latencyMs.p99 < 10,
        });
      }
      const inLoop = pick(recs, { ...where, target: 'edge-in-loop' });
      if (inLoop) {
        out.push({
          scenario: 'purchase',
          target: `the thread hop: Piscina lanes against in-loop lanes${gen}`,
          measured:
            `workers ${Math.round(edge.rps)} req/s, ${f1(edge.cpu.totalUs)} us; in-loop ${Math.round(inLoop.rps)} req/s, ` +
            `${f1(inLoop.cpu.totalUs)} us: the hop costs ${f1(edge.cpu.nodeUs - inLoop.cpu.nodeUs)} us of Node CPU per purchase`,
          met: null,
          note: 'reported, not a target',
        });
      }
      const reserved = edge.outcome?.reserved ?? 0;
      if (reserved > 0) {
        const saleKeys = edge.outcome?.saleKeysBytesPerReserved;
        const memory = (edge.outcome?.redisMemoryBytes ?? 0) / reserved;
        const aofGrowth = edge.outcome?.aofBytes ?? 0;
        const aof = edge.outcome?.aofRewrites === 0 && aofGrowth > 0 ? aofGrowth / reserved : undefined;
        out.push({
          scenario: 'purchase',
          target: `Redis memory and AOF bytes per reserved purchase <= 200 each${gen}`,
          measured:
            `the sale's own keys ${saleKeys ?? '?'} B; all of Redis ${Math.round(memory)} B; ` +
            `AOF ${aof === undefined ? 'n/a (rewritten during the run)' : `${Math.round(aof)} B`}`,
          met: saleKeys !== undefined && aof !== undefined ? saleKeys <= 200 && aof <= 200 : null,
          note: "all of Redis and the AOF include the bus's copy of every event (the relay's streams keep up to 1M entries per partition)",
        });
      }
    }
    const sold = pick(recs, { scenario: 'purchase', variant: 'sold-out', target: 'edge', generator });
    const soldPeer = pick(recs, {
      scenario: 'purchase',
      variant: 'sold-out',
      target: 'fastify-peer',
      generator,
    });
    if (sold && soldPeer) {
      const ratio = sold.rps / soldPeer.rps;
      out.push({
        scenario: 'purchase',
        target: `sold-out path >= 3x the peer's throughput (${generator}, ${sold.connections} conns)`,
        measured: `${ratio.toFixed(2)}x (${Math.round(sold.rps)} vs ${Math.round(soldPeer.rps)} req/s)`,
        met: ratio >= 3,
      });
    }
    const cold = recs.find(
      (r) => r.scenario === 'purchase' && r.variant?.startsWith('first-') && r.generator === generator,
    );
    const warm =
      cold &&
      pick(recs, {
        scenario: 'purchase',
        variant: 'reserve',
        target: 'edge',
        generator,
        connections: cold.connections,
      });
    if (cold && warm) {
      const share = cold.rps / warm.rps;
      out.push({
        scenario: 'purchase',
        target: `the first seconds of a sale: p99 < 50 ms, throughput within 20% of warm (${generator}, ${cold.connections} conns)`,
        measured: `p99 ${cold.latencyMs.p99.toFixed(1)} ms, ${Math.round(cold.rps)} req/s = ${Math.round(share * 100)}% of warm`,
        met: cold.latencyMs.p99 < 50 && share >= 0.8,
        note: "a fresh edge process: every buyer's token is verified once, lanes were warmed when the sale was loaded",
      });
    }
  }
  for (const generator of ['wrk', 'autocannon'] as const) {
    const status = pick(recs, { scenario: 'status', generator });
    const hello = pick(recs, { scenario: 'http-ceiling', generator });
    if (!status || !hello) continue;
    const share = status.rps / hello.rps;
    out.push({
      scenario: 'status',
      target: `>= 80% of the hello-world ceiling (${generator})`,
      measured: `${Math.round(share * 100)}% (${Math.round(status.rps)} vs ${Math.round(hello.rps)} req/s)`,
      met: share >= 0.8,
      ...(generator === 'autocannon'
        ? { note: 'autocannon saturates its own core first: a generator ceiling' }
        : {}),
    });
  }
  if (doc.wsFanout) {
    const w = doc.wsFanout;
    out.push({
      scenario: 'ws-fanout',
      target: '10,000 subscribers, p99 delivery < 50 ms',
      measured:
        `${w.subscribed} subscribers; publish->client p99 ${f1(w.publishToClientMs.p99)} ms; ` +
        `stock change->client p99 ${f1(w.changeToClientMs.p99)} ms`,
      met: w.subscribed >= 10_000 ? w.changeToClientMs.p99 < 50 : null,
      note:
        w.subscribed < 10_000
          ? 'fewer than 10,000 subscribers in this run'
          : 'judged on stock change -> client, which includes the edge polling the sale directory',
    });
  }
  const micro = doc.micro ?? [];
  const lookup = micro.find((m) => m.task.startsWith('router.route'));
  if (lookup) {
    out.push({
      scenario: 'micro',
      target: '>= 10 million cell lookups/s',
      measured: `${f1(lookup.opsPerSecond / 1e6)} M/s`,
      met: lookup.opsPerSecond >= 10e6,
    });
  }
  const score = micro.find((m) => m.task.startsWith('model.score'));
  if (score) {
    out.push({
      scenario: 'micro',
      target: 'one fraud score < 20 us',
      measured: `${(score.nsPerOp / 1000).toFixed(2)} us`,
      met: score.nsPerOp < 20_000,
    });
  }
  return out;
}
