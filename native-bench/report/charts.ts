/**
 * SVG charts rendered offline: Vega-Lite compiled to Vega, rendered headless (`renderer: 'none'`), no browser
 * or canvas. Throughput, latency percentiles and CPU per request, subject, peer and ceilings side by side.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { RunRecord } from '../lib/measure.ts';

export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

export const label = (r: RunRecord): string =>
  `${r.scenario}${r.variant ? `/${r.variant}` : ''}: ${r.target}`;

const http = (records: RunRecord[]) => records.filter((r) => r.generator !== 'redis-benchmark');

export function throughputSpec(records: RunRecord[]): vl.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Throughput (requests/s; Redis calls/s for redis-benchmark), by load generator',
    width: 520,
    data: {
      values: records.map((r) => ({ label: label(r), generator: r.generator, rps: Math.round(r.rps) })),
    },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: null, title: null },
      yOffset: { field: 'generator' },
      x: { field: 'rps', type: 'quantitative', title: 'requests/s' },
      color: { field: 'generator', type: 'nominal' },
    },
  };
}

export function latencySpec(records: RunRecord[]): vl.TopLevelSpec {
  const values = http(records)
    .filter((r) => r.generator === 'wrk')
    .flatMap((r) =>
      (['p50', 'p90', 'p99'] as const).map((p) => ({ label: label(r), percentile: p, ms: r.latencyMs[p] })),
    );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Latency percentiles (ms, wrk)',
    width: 520,
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: null, title: null },
      yOffset: { field: 'percentile', sort: ['p50', 'p90', 'p99'] },
      x: { field: 'ms', type: 'quantitative', title: 'ms' },
      color: { field: 'percentile', type: 'nominal', sort: ['p50', 'p90', 'p99'] },
    },
  };
}

export function cpuSpec(records: RunRecord[]): vl.TopLevelSpec {
  const preferred = records.filter((r) => r.generator === 'wrk' || r.generator === 'redis-benchmark');
  const values = preferred.flatMap((r) => [
    { label: label(r), part: 'Node', us: r.cpu.nodeUs },
    { label: label(r), part: 'Redis', us: r.cpu.redisUs },
    { label: label(r), part: 'PostgreSQL', us: r.cpu.postgresUs },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'CPU time per request (us) of the serving processes (wrk runs)',
    width: 520,
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: null, title: null },
      x: { field: 'us', type: 'quantitative', stack: 'zero', title: 'us CPU / request' },
      color: { field: 'part', type: 'nominal', sort: ['Node', 'Redis', 'PostgreSQL'] },
    },
  };
}

export function tuneSpec(
  rows: { label: string; rps: number; p99: number; cpuUs: number }[],
): vl.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'tune: purchase throughput per pool setting (wrk)',
    width: 520,
    data: { values: rows },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: null, title: null },
      x: { field: 'rps', type: 'quantitative', title: 'requests/s' },
    },
  };
}
