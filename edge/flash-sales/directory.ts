/**
 * The sales this edge knows, kept in memory: the flash-sale service's snapshot polled every few
 * hundred milliseconds (so `remaining` lags by well under a second), with the state recomputed
 * locally from the clock so a sale opens and ends on time between polls. Reads never touch Redis.
 */
import { request } from 'undici';
import type { SaleSnapshot, SaleState } from '../../services/flash-sale/index.ts';
import type { Logger } from '../../services/kit/index.ts';

export interface KnownSale extends SaleSnapshot {
  startsAtMs: number;
  endsAtMs: number;
}

export type SaleListener = (sale: KnownSale, previous: KnownSale | undefined) => void;

/** A sale as clients see it (`GET /v1/flash-sales/:id` and the list): the service's snapshot, state by the clock. */
export type SaleView = Omit<SaleSnapshot, 'updatedAt'>;

export class SaleDirectory {
  readonly #sales = new Map<string, KnownSale>();
  readonly #listeners: SaleListener[] = [];
  readonly #views = new WeakMap<KnownSale, { state: SaleState; json: string }>();
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #missRefresh: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly intervalMs = 250,
  ) {}

  get(id: string): KnownSale | undefined {
    return this.#sales.get(id);
  }

  /**
   * A sale this process has not seen: just created, or this process has just started (a replacement edge
   * process must not answer 404 for a live sale). Asks the service once before saying it does not exist;
   * misses share one refresh, and at most one runs per 100 ms however many unknown ids are asked for.
   */
  async find(id: string): Promise<KnownSale | undefined> {
    if (!this.#missRefresh) {
      this.#missRefresh = this.refresh()
        .catch(() => {})
        .finally(() => {
          setTimeout(() => {
            this.#missRefresh = undefined;
          }, 100).unref();
        });
    }
    await this.#missRefresh;
    return this.#sales.get(id);
  }

  all(): KnownSale[] {
    return [...this.#sales.values()];
  }

  onChange(listener: SaleListener): void {
    this.#listeners.push(listener);
  }

  view(sale: KnownSale, now: number): SaleView {
    return {
      id: sale.id,
      sku: sale.sku,
      title: sale.title,
      priceMinor: sale.priceMinor,
      currency: sale.currency,
      perUserLimit: sale.perUserLimit,
      startsAt: sale.startsAt,
      endsAt: sale.endsAt,
      state: this.stateAt(sale, now),
      remaining: sale.remaining,
      powDifficulty: sale.powDifficulty,
    };
  }

  /**
   * The view as JSON text, built once per snapshot and state: a refresh replaces the snapshot object, and
   * the state changes only with the clock or a refresh, so a status read is a lookup.
   */
  viewJson(sale: KnownSale, now: number): string {
    const state = this.stateAt(sale, now);
    const cached = this.#views.get(sale);
    if (cached !== undefined && cached.state === state) return cached.json;
    const json = JSON.stringify(this.view(sale, now));
    this.#views.set(sale, { state, json });
    return json;
  }

  /** The state now, by the clock, given what the service last said. */
  stateAt(sale: KnownSale, now: number): SaleState {
    if (sale.state === 'ended' || now >= sale.endsAtMs) return 'ended';
    if (now < sale.startsAtMs) return 'scheduled';
    if (sale.state === 'paused') return 'paused';
    return sale.remaining <= 0 ? 'sold_out' : 'live';
  }

  async refresh(): Promise<void> {
    const r = await request(`${this.url}/internal/v1/flash-sales`, {
      headersTimeout: 2000,
      bodyTimeout: 2000,
    });
    if (r.statusCode !== 200) {
      await r.body.dump();
      throw new Error(`flash-sale service answered ${r.statusCode}`);
    }
    const { sales } = (await r.body.json()) as { sales: SaleSnapshot[] };
    const seen = new Set<string>();
    for (const s of sales) {
      seen.add(s.id);
      const next: KnownSale = { ...s, startsAtMs: Date.parse(s.startsAt), endsAtMs: Date.parse(s.endsAt) };
      const previous = this.#sales.get(s.id);
      this.#sales.set(s.id, next);
      if (
        !previous ||
        previous.remaining !== next.remaining ||
        previous.state !== next.state ||
        previous.endsAt !== next.endsAt
      ) {
        for (const l of this.#listeners) l(next, previous);
      }
    }
    for (const id of this.#sales.keys()) if (!seen.has(id)) this.#sales.delete(id);
  }

  start(): void {
    const tick = () => {
      this.refresh()
        .then(
          () => {
            if (this.#failures > 0) this.log.info('flash-sale snapshots are back');
            this.#failures = 0;
          },
          (err: Error) => {
            if (this.#failures++ === 0)
              this.log.warn(
                { err: err.message },
                'cannot refresh flash-sale snapshots; serving the last ones',
              );
          },
        )
        .finally(() => {
          this.#timer = setTimeout(tick, this.intervalMs);
          this.#timer.unref();
        });
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
