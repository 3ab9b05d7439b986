/** The targets (reported, never pass/fail for the run), checked against one run's figures. */
import type { RunRecord } from '../lib/measure.ts';
import type { BenchDocument, TargetCheck } from './document.ts';

const f1 = (n: number) => n.toFixed(1);
const pick = (records: RunRecord[], where: Partial<RunRecord>) =>
  records.find((r) => Object.entries(where).every(([k, v]) => r[k as keyof RunRecord] === v));

export function checkTargets(doc: Pick<BenchDocument, 'records' | 'micro' | 'wsFanout'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  const recs = doc.records;
  for (const generator of ['wrk', 'autocannon'] as const) {
    const edge = pick(recs, { scenario: 'purchase', variant: 'reserve', target: 'edge', generator });
    const peer = pick(recs, { scenario: 'purchase', variant: 'reserve', target: 'fastify-peer', generator });
    if (!edge || !peer) continue;
    const gen = ` (${generator}, ${edge.connections} conns)`;
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
    out.push({
      scenario: 'purchase',
      target: `p99 no worse than the peer's and < 10 ms at 256 connections${gen}`,
      measured: `${edge.latencyMs.p99.toFixed(2)} ms vs peer ${peer.latencyMs.p99.toFixed(2)} ms`,
      met:
        edge.connections === 256 ? edge.latencyMs.p99 <= peer.latencyMs.p99 && edge.latencyMs.p99 < 10 : null,
      ...(edge.connections !== 256 ? { note: 'not measured at 256 connections' } : {}),
    });
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
