/**
 * Live sale updates over WebSocket topic `flash-sale:<id>`: state changes as they happen, `remaining`
 * coalesced to at most 10 messages per second per topic, and a countdown every second before start.
 */
import type { WebSocketHub } from '../websocket.ts';
import type { KnownSale, SaleDirectory } from './directory.ts';

const MIN_GAP_MS = 100;

export class SaleFeed {
  readonly #lastSent = new Map<string, { at: number; state: string; remaining: number }>();
  readonly #pending = new Map<string, NodeJS.Timeout>();
  #countdown: NodeJS.Timeout | undefined;

  constructor(
    private readonly directory: SaleDirectory,
    private readonly ws: WebSocketHub,
  ) {
    directory.onChange((sale) => this.#changed(sale));
  }

  #message(sale: KnownSale, now: number) {
    return JSON.stringify({
      type: 'sale',
      id: sale.id,
      state: this.directory.stateAt(sale, now),
      remaining: sale.remaining,
      startsAt: sale.startsAt,
      endsAt: sale.endsAt,
      at: now,
    });
  }

  #send(sale: KnownSale): void {
    const now = Date.now();
    const state = this.directory.stateAt(sale, now);
    this.#lastSent.set(sale.id, { at: now, state, remaining: sale.remaining });
    this.ws.publish(`flash-sale:${sale.id}`, this.#message(sale, now));
  }

  #changed(sale: KnownSale): void {
    const last = this.#lastSent.get(sale.id);
    const now = Date.now();
    const stateChanged = !last || last.state !== this.directory.stateAt(sale, now);
    if (stateChanged || now - last.at >= MIN_GAP_MS) {
      clearTimeout(this.#pending.get(sale.id));
      this.#pending.delete(sale.id);
      this.#send(sale);
      return;
    }
    if (this.#pending.has(sale.id)) return; // the scheduled send will carry the newest figure
    const timer = setTimeout(
      () => {
        this.#pending.delete(sale.id);
        const current = this.directory.get(sale.id);
        if (current) this.#send(current);
      },
      MIN_GAP_MS - (now - last.at),
    );
    timer.unref();
    this.#pending.set(sale.id, timer);
  }

  /** Countdown before start, and the scheduled -> live / live -> ended transitions the clock makes. */
  #tick(): void {
    const now = Date.now();
    for (const sale of this.directory.all()) {
      const state = this.directory.stateAt(sale, now);
      const topic = `flash-sale:${sale.id}`;
      if (state === 'scheduled' && this.ws.subscribers(topic) > 0) {
        this.ws.publish(
          topic,
          JSON.stringify({ type: 'countdown', id: sale.id, startsInMs: sale.startsAtMs - now, at: now }),
        );
      }
      const last = this.#lastSent.get(sale.id);
      if (last && last.state !== state) this.#send(sale);
    }
  }

  start(): void {
    this.#countdown = setInterval(() => this.#tick(), 1000);
    this.#countdown.unref();
  }

  stop(): void {
    clearInterval(this.#countdown);
    for (const t of this.#pending.values()) clearTimeout(t);
  }
}
