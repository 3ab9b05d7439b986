/**
 * Prometheus metrics (prom-client). One registry per process, names prefixed `titan_`,
 * base units, counters end in `_total`; never user or SKU ids as labels.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export const METRIC_PREFIX = 'titan_';

export interface Metrics {
  readonly registry: Registry;
  counter<L extends string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  histogram<L extends string>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    buckets?: number[],
  ): Histogram<L>;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** Latency buckets in seconds, from 50 us to 5 s. */
export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

export function createMetrics(options: { process?: string; defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.process) registry.setDefaultLabels({ process: options.process });
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const full = (name: string) => (name.startsWith(METRIC_PREFIX) ? name : METRIC_PREFIX + name);
  const existing = (name: string) => registry.getSingleMetric(full(name));
  return {
    registry,
    counter(name, help, labelNames = []) {
      return (existing(name) ??
        new Counter({ name: full(name), help, labelNames, registers: [registry] })) as never;
    },
    gauge(name, help, labelNames = []) {
      return (existing(name) ??
        new Gauge({ name: full(name), help, labelNames, registers: [registry] })) as never;
    },
    histogram(name, help, labelNames = [], buckets = LATENCY_BUCKETS) {
      return (existing(name) ??
        new Histogram({ name: full(name), help, labelNames, buckets, registers: [registry] })) as never;
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
