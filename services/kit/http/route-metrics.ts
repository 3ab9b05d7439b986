/**
 * The HTTP server's per-route metrics, counted into plain numbers and turned into Prometheus samples only when
 * scraped: `titan_http_requests_total{route,method,status}`, `titan_http_request_duration_seconds{route,method}`
 * and `titan_http_requests_in_flight`. A prom-client `inc`/`observe` builds a label object and hashes it on
 * every call; here a route resolves its record once and a request costs an array index and two additions.
 */
import type { Registry } from 'prom-client';
import { LATENCY_BUCKETS, METRIC_PREFIX } from '../metrics.ts';

type Labels = Record<string, string>;
interface Sample {
  metricName?: string;
  labels: Labels;
  value: number;
}

/** One (route, method): its latency buckets and its answers by status. */
export class RouteRecord {
  readonly #bounds: readonly number[];
  readonly buckets: Float64Array;
  count = 0;
  sum = 0;
  /** status -> answers */
  readonly statuses = new Map<number, number>();

  constructor(
    readonly route: string,
    readonly method: string,
    bounds: readonly number[],
  ) {
    this.#bounds = bounds;
    this.buckets = new Float64Array(bounds.length);
  }

  /** One answer with `status`, `seconds` after the request arrived. */
  observe(status: number, seconds: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    this.count++;
    this.sum += seconds;
    const b = this.#bounds;
    for (let i = 0; i < b.length; i++) {
      if (seconds <= b[i]!) {
        this.buckets[i]!++;
        return;
      }
    }
  }

  /** An answer counted without a latency (aborted requests, 404s, 405s). */
  countOnly(status: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }
}

const shared = new WeakMap<Registry, RouteMetrics>();

/** The route metrics of a registry: servers sharing a registry share them (as they shared its metrics). */
export function routeMetricsOf(registry: Registry): RouteMetrics {
  let m = shared.get(registry);
  if (m === undefined) {
    m = new RouteMetrics(registry);
    shared.set(registry, m);
  }
  return m;
}

export class RouteMetrics {
  readonly #records = new Map<string, RouteRecord>();
  readonly #bounds: readonly number[];
  inFlight = 0;

  constructor(registry: Registry, bounds: readonly number[] = LATENCY_BUCKETS) {
    this.#bounds = bounds;
    const metric = (name: string, help: string, type: string, values: () => Sample[]) => ({
      name: METRIC_PREFIX + name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name: METRIC_PREFIX + name, help, type, values: values(), aggregator: 'sum' }),
    });
    const register = (m: ReturnType<typeof metric>) => registry.registerMetric(m as never);
    register(
      metric('http_requests_total', 'HTTP requests answered', 'counter', () => {
        const out: Sample[] = [];
        for (const r of this.#records.values()) {
          for (const [status, n] of r.statuses) {
            out.push({ labels: { route: r.route, method: r.method, status: String(status) }, value: n });
          }
        }
        return out;
      }),
    );
    register(
      metric('http_request_duration_seconds', 'HTTP request latency', 'histogram', () => {
        const name = `${METRIC_PREFIX}http_request_duration_seconds`;
        const out: Sample[] = [];
        for (const r of this.#records.values()) {
          if (r.count === 0) continue;
          let cumulative = 0;
          for (let i = 0; i < this.#bounds.length; i++) {
            cumulative += r.buckets[i]!;
            out.push({
              metricName: `${name}_bucket`,
              labels: { le: String(this.#bounds[i]), route: r.route, method: r.method },
              value: cumulative,
            });
          }
          const labels = { route: r.route, method: r.method };
          out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: r.count });
          out.push({ metricName: `${name}_sum`, labels, value: r.sum });
          out.push({ metricName: `${name}_count`, labels, value: r.count });
        }
        return out;
      }),
    );
    register(
      metric('http_requests_in_flight', 'HTTP requests being served', 'gauge', () => [
        { labels: {}, value: this.inFlight },
      ]),
    );
  }

  /** The record of (route, method), created on first use; hold on to it. */
  record(route: string, method: string): RouteRecord {
    const key = `${method} ${route}`;
    let r = this.#records.get(key);
    if (r === undefined) {
      r = new RouteRecord(route, method, this.#bounds);
      this.#records.set(key, r);
    }
    return r;
  }
}
