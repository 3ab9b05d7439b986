/**
 * The engine's Prometheus metrics, labelled by `cell` and `pool` only. Counters and histograms are recorded as
 * batches complete (workers cannot register prom-client metrics: they send their timings with each reply);
 * gauges (queue depth, utilization, threads) are sampled from the pools when the registry is scraped.
 */
import { Gauge, METRIC_PREFIX, type Metrics } from '../services/kit/metrics.ts';
import type { BatchObserver } from './dispatcher.ts';

const LABELS = ['cell', 'pool'] as const;
type Label = (typeof LABELS)[number];

/** Batch sizes up to the largest purchase batch (48) and the largest configurable batch (1024). */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 24, 32, 40, 48, 64, 128, 256, 512, 1024];

export interface PoolSample {
  readonly cell: string;
  readonly pool: string;
  readonly queueDepth: number;
  readonly pendingRequests: number;
  readonly utilization: number;
  readonly threads: number;
}

export type SampleSource = () => Iterable<PoolSample>;

interface Gauges {
  readonly sources: Set<SampleSource>;
}

// One set of gauges per registry; every engine on that registry adds its pools as a source.
const gaugesByRegistry = new WeakMap<object, Gauges>();

function gauges(metrics: Metrics): Gauges {
  const existing = gaugesByRegistry.get(metrics.registry);
  if (existing !== undefined) return existing;
  const sources = new Set<SampleSource>();
  const g: Gauges = { sources };
  const samples = () => [...sources].flatMap((s) => [...s()]);
  const define = (name: string, help: string, pick: (s: PoolSample) => number) =>
    new Gauge<Label>({
      name: METRIC_PREFIX + name,
      help,
      labelNames: LABELS,
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const s of samples()) this.set({ cell: s.cell, pool: s.pool }, pick(s));
      },
    });
  define('engine_queue_depth', 'Tasks waiting for a worker thread', (s) => s.queueDepth);
  define(
    'engine_pending_requests',
    'Requests waiting in a dispatcher for their batch to be sent',
    (s) => s.pendingRequests,
  );
  define(
    'engine_utilization_ratio',
    'Pool utilization as Piscina reports it (run time over capacity)',
    (s) => s.utilization,
  );
  define('engine_threads', 'Worker threads alive', (s) => s.threads);
  gaugesByRegistry.set(metrics.registry, g);
  return g;
}

export class EngineMetrics {
  readonly #metrics: Metrics;
  readonly #gauges: Gauges;
  readonly #batchSize;
  readonly #wait;
  readonly #run;
  readonly #busy;
  readonly #retriable;
  readonly #requests;
  readonly #luaCalls;

  constructor(metrics: Metrics) {
    this.#metrics = metrics;
    this.#gauges = gauges(metrics);
    this.#batchSize = metrics.histogram('engine_batch_size', 'Requests per task', LABELS, BATCH_SIZE_BUCKETS);
    this.#wait = metrics.histogram(
      'engine_task_wait_seconds',
      'Time from dispatch to a worker starting the task',
      LABELS,
    );
    this.#run = metrics.histogram('engine_task_run_seconds', 'Time a worker spent on one task', LABELS);
    this.#busy = metrics.counter(
      'engine_busy_rejections_total',
      'Requests answered BUSY (pool queue full)',
      LABELS,
    );
    this.#retriable = metrics.counter(
      'engine_retriable_failures_total',
      'Requests answered retry (worker crash or error, timeout, Redis unavailable)',
      LABELS,
    );
    this.#requests = metrics.counter('engine_requests_total', 'Requests dispatched in a task', LABELS);
    this.#luaCalls = metrics.counter('engine_lua_calls_total', 'Lua script calls made by workers', LABELS);
  }

  get registry(): Metrics['registry'] {
    return this.#metrics.registry;
  }

  addSource(source: SampleSource): () => void {
    this.#gauges.sources.add(source);
    return () => this.#gauges.sources.delete(source);
  }

  /** An observer bound to one (cell, pool), with the label children resolved once. */
  observer(cell: string, pool: string): BatchObserver {
    const labels = { cell, pool };
    const batchSize = this.#batchSize.labels(labels);
    const wait = this.#wait.labels(labels);
    const run = this.#run.labels(labels);
    const busy = this.#busy.labels(labels);
    const retriable = this.#retriable.labels(labels);
    const requests = this.#requests.labels(labels);
    const luaCalls = this.#luaCalls.labels(labels);
    return {
      batch(size) {
        batchSize.observe(size);
        requests.inc(size);
      },
      reply(submittedAtMs, startedAtMs, runMicros, calls) {
        wait.observe(Math.max(0, startedAtMs - submittedAtMs) / 1000);
        run.observe(runMicros / 1e6);
        luaCalls.inc(calls);
      },
      busy() {
        busy.inc();
      },
      retry(n) {
        retriable.inc(n);
      },
    };
  }
}
