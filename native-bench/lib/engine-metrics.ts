/**
 * The edge's engine figures over a run, from its Prometheus metrics: mean batch size, and the mean time a task
 * waited from dispatch to a worker starting it and ran in the worker (engine/README.md "Metrics").
 */
const SERIES =
  /^titan_engine_(batch_size|task_wait_seconds|task_run_seconds)_(sum|count)\{[^}]*pool="flashSale"[^}]*\} ([\d.e+-]+)$/;

type Sums = Record<string, number>;

export async function engineSums(edgeUrl: string): Promise<Sums> {
  const text = await fetch(`${edgeUrl}/metrics`).then((r) => r.text());
  const out: Sums = {};
  for (const line of text.split('\n')) {
    const m = SERIES.exec(line);
    if (m) out[`${m[1]}_${m[2]}`] = (out[`${m[1]}_${m[2]}`] ?? 0) + Number(m[3]);
  }
  return out;
}

export function engineDelta(before: Sums, after: Sums): Record<string, number> {
  const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  const tasks = d('batch_size_count');
  return {
    tasks,
    meanBatchSize: tasks ? d('batch_size_sum') / tasks : 0,
    meanTaskWaitMs: d('task_wait_seconds_count')
      ? (d('task_wait_seconds_sum') * 1000) / d('task_wait_seconds_count')
      : 0,
    meanTaskRunMs: d('task_run_seconds_count')
      ? (d('task_run_seconds_sum') * 1000) / d('task_run_seconds_count')
      : 0,
  };
}
