/**
 * Writes a run's results: `<dir>/<timestamp>.json` (the whole document) and `<dir>/latest.md` with tables
 * and links to `<dir>/latest-*.svg` charts. Also checks a written document is well-formed (the smoke test).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../lib/measure.ts';
import { cpuSpec, label, latencySpec, renderSvg, throughputSpec, tuneSpec } from './charts.ts';
import type { BenchDocument } from './document.ts';

const n0 = (n: number) => Math.round(n).toLocaleString('en-US');
const n1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const n2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function ratioTo(r: RunRecord, others: RunRecord[], pred: (o: RunRecord) => boolean): string {
  const o = others.find((x) => pred(x) && x.generator === r.generator);
  return o && o !== r ? `${n2(r.rps / o.rps)}x` : '';
}

function recordsTable(records: RunRecord[], all: RunRecord[]): string {
  return table(
    [
      'run',
      'role',
      'generator',
      'conns',
      'req/s',
      'x peer',
      'x hello',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'CPU us/req Node',
      'Redis',
      'PG',
      'total',
      'generator',
      'Lua calls/req',
      'non-2xx',
      'outcome',
    ],
    records.map((r) => [
      label(r),
      r.role,
      r.generator,
      r.connections,
      n0(r.rps),
      r.role === 'subject'
        ? ratioTo(
            r,
            all,
            (o) =>
              o.role === 'peer' &&
              o.scenario === r.scenario &&
              o.variant === r.variant &&
              o.connections === r.connections,
          )
        : '',
      r.role !== 'ceiling' ? ratioTo(r, all, (o) => o.target === 'uws-hello') : '',
      n2(r.latencyMs.p50),
      n2(r.latencyMs.p90),
      n2(r.latencyMs.p99),
      n2(r.latencyMs.p999),
      n1(r.cpu.nodeUs),
      n1(r.cpu.redisUs),
      n1(r.cpu.postgresUs),
      n1(r.cpu.totalUs),
      n1(r.cpu.generatorUs),
      r.redis ? n2(r.redis.evalshaPerRequest) : '',
      n0(r.non2xx),
      r.outcome
        ? Object.entries(r.outcome)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')
        : '',
    ]),
  );
}

export async function writeReport(
  dir: string,
  doc: BenchDocument,
): Promise<{ json: string; md: string; svgs: string[] }> {
  mkdirSync(dir, { recursive: true });
  const stamp = doc.startedAt.replace(/[:.]/g, '-');
  const json = join(dir, `${stamp}.json`);
  writeFileSync(json, `${JSON.stringify(doc, null, 2)}\n`);

  const svgs: string[] = [];
  const charts: [string, string][] = [];
  if (doc.records.length) {
    for (const [name, spec] of [
      ['throughput', throughputSpec(doc.records)],
      ['latency', latencySpec(doc.records)],
      ['cpu', cpuSpec(doc.records)],
    ] as const) {
      const file = `latest-${name}.svg`;
      writeFileSync(join(dir, file), await renderSvg(spec));
      svgs.push(join(dir, file));
      charts.push([name, file]);
    }
  }
  if (doc.tune) {
    const file = 'latest-tune.svg';
    const rows = doc.tune.rows.map((t) => ({
      label: settingsLabel(t.settings),
      rps: Math.round(t.record.rps),
      p99: t.record.latencyMs.p99,
      cpuUs: t.record.cpu.totalUs,
    }));
    writeFileSync(join(dir, file), await renderSvg(tuneSpec(rows)));
    svgs.push(join(dir, file));
    charts.push(['tune', file]);
  }

  const md: string[] = [];
  md.push(`# Titan native-bench results${doc.smoke ? ' (SMOKE RUN: not a measurement)' : ''}`);
  md.push('');
  md.push(
    `Run ${doc.startedAt} .. ${doc.finishedAt}; scenarios: ${doc.scenarios.join(', ')}; data: \`${stamp}.json\`.`,
  );
  md.push('');
  md.push('## Machine and versions');
  md.push('');
  md.push(
    `${doc.machine.cpus} x ${doc.machine.cpuModel}, ${(doc.machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ` +
      `${doc.machine.kernel}, load average at launch ${doc.machine.loadAverageAtStart.map(n2).join(' ')}` +
      (doc.machine.loadAverageAfterSetup
        ? `, after the bench's set-up ${doc.machine.loadAverageAfterSetup.map(n2).join(' ')}.`
        : '.'),
  );
  md.push('');
  md.push(table(['component', 'version'], Object.entries(doc.versions)));
  md.push('');
  md.push('## Method');
  md.push('');
  for (const m of doc.method) md.push(`- ${m}`);
  md.push('');
  if (doc.targets.length) {
    md.push('## Targets (reported, not pass/fail)');
    md.push('');
    md.push(
      table(
        ['scenario', 'target', 'measured', 'met'],
        doc.targets.map((t) => [
          t.scenario,
          t.target,
          t.measured + (t.note ? ` (${t.note})` : ''),
          t.met === null ? 'n/a' : t.met ? 'yes' : '**NO**',
        ]),
      ),
    );
    md.push('');
  }
  const scenarios = [...new Set(doc.records.map((r) => r.scenario))];
  for (const s of scenarios) {
    md.push(`## ${s}`);
    md.push('');
    md.push(
      recordsTable(
        doc.records.filter((r) => r.scenario === s),
        doc.records,
      ),
    );
    md.push('');
  }
  if (charts.length) {
    md.push('## Charts');
    md.push('');
    for (const [name, file] of charts) md.push(`![${name}](${file})`, '');
  }
  if (doc.micro?.length) {
    md.push('## micro (tinybench)');
    md.push('');
    md.push(
      table(
        ['group', 'task', 'ops/s', 'ns/op', 'Redis us/call', 'note'],
        doc.micro.map((m) => [
          m.group,
          m.task,
          n0(m.opsPerSecond),
          n1(m.nsPerOp),
          m.redisUsPerCall === undefined ? '' : n1(m.redisUsPerCall),
          m.note ?? '',
        ]),
      ),
    );
    md.push('');
  }
  if (doc.wsFanout) {
    const w = doc.wsFanout;
    md.push('## ws-fanout');
    md.push('');
    md.push(
      table(
        [
          'clients',
          'subscribed',
          'updates',
          'publish->client p50 / p90 / p99 / max ms',
          'stock change->client p50 / p90 / p99 / max ms',
          'last client p50 / p99 ms',
          'edge memory / connection',
          'missed',
        ],
        [
          [
            w.clients,
            w.subscribed,
            w.updates,
            `${n1(w.publishToClientMs.p50)} / ${n1(w.publishToClientMs.p90)} / ${n1(w.publishToClientMs.p99)} / ${n1(w.publishToClientMs.max)}`,
            `${n1(w.changeToClientMs.p50)} / ${n1(w.changeToClientMs.p90)} / ${n1(w.changeToClientMs.p99)} / ${n1(w.changeToClientMs.max)}`,
            `${n1(w.lastClientMs.p50)} / ${n1(w.lastClientMs.p99)}`,
            `${n0(w.bytesPerConnection)} B`,
            w.missed,
          ],
        ],
      ),
    );
    md.push('');
  }
  if (doc.tune) {
    md.push('## tune (flash-sale pool settings, purchase scenario, wrk)');
    md.push('');
    md.push(
      table(
        ['settings', 'req/s', 'p99 ms', 'CPU us/req Node', 'Redis', 'total', 'Lua calls/req', 'non-2xx'],
        doc.tune.rows.map((t) => [
          settingsLabel(t.settings),
          n0(t.record.rps),
          n2(t.record.latencyMs.p99),
          n1(t.record.cpu.nodeUs),
          n1(t.record.cpu.redisUs),
          n1(t.record.cpu.totalUs),
          t.record.redis ? n2(t.record.redis.evalshaPerRequest) : '',
          n0(t.record.non2xx),
        ]),
      ),
    );
    md.push('');
    md.push(`Recommended for this machine: **${settingsLabel(doc.tune.recommended)}**: ${doc.tune.reason}`);
    md.push('');
    md.push(`Apply with: \`${doc.tune.command}\``);
    md.push('');
  }
  if (doc.profiles && Object.keys(doc.profiles).length) {
    md.push('## Profiles');
    md.push('');
    for (const [k, v] of Object.entries(doc.profiles)) md.push(`- ${k}: ${v}`);
    md.push('');
  }
  if (doc.notes.length) {
    md.push('## Notes');
    md.push('');
    for (const n of doc.notes) md.push(`- ${n}`);
    md.push('');
  }
  const mdFile = join(dir, 'latest.md');
  writeFileSync(mdFile, md.join('\n'));
  return { json, md: mdFile, svgs };
}

export function settingsLabel(s: {
  batchMaxSize: number;
  batchMaxWaitMicros: number;
  minThreads: number;
  maxThreads: number;
  concurrentTasksPerWorker: number;
}): string {
  return `batch ${s.batchMaxSize}/${s.batchMaxWaitMicros}us, threads ${s.minThreads}-${s.maxThreads}, tasks/worker ${s.concurrentTasksPerWorker}`;
}

/** Problems of a results document (empty when well-formed): what the smoke test asserts. */
export function documentProblems(doc: unknown): string[] {
  const p: string[] = [];
  const d = doc as Partial<BenchDocument>;
  if (d?.kind !== 'titan-native-bench') p.push('kind');
  if (typeof d.startedAt !== 'string' || Number.isNaN(Date.parse(d.startedAt))) p.push('startedAt');
  if (!d.machine || !(d.machine.cpus > 0)) p.push('machine');
  if (!d.versions?.node) p.push('versions.node');
  if (!Array.isArray(d.method) || d.method.length === 0) p.push('method');
  if (!Array.isArray(d.records)) p.push('records');
  for (const [i, r] of (d.records ?? []).entries()) {
    const where = `records[${i}]`;
    if (!r.target || !r.generator || !r.scenario) p.push(`${where}: names`);
    if (!(r.requests > 0) || !(r.rps > 0)) p.push(`${where}: requests/rps`);
    for (const k of ['p50', 'p90', 'p99'] as const) {
      if (!Number.isFinite(r.latencyMs?.[k])) p.push(`${where}: latency ${k}`);
    }
    for (const k of ['nodeUs', 'redisUs', 'totalUs'] as const) {
      if (!Number.isFinite(r.cpu?.[k]) || r.cpu[k] < 0) p.push(`${where}: cpu ${k}`);
    }
  }
  if (!Array.isArray(d.targets)) p.push('targets');
  return p;
}
