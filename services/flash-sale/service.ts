/** Operators' actions on flash sales: create, update before start, pause, resume, end; each validated. */
import { createHash } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import { withTransaction } from '../kit/index.ts';
import type { ControlLoop } from './control-loop.ts';
import {
  assertWindow,
  newSaleId,
  parseTime,
  type Sale,
  type SaleInput,
  type SalePatch,
} from './domain/sale.ts';
import { FlashSaleErrors } from './errors.ts';
import type { SaleStore } from './store.ts';

type Input = Static<typeof SaleInput>;
type Patch = Static<typeof SalePatch>;

const DEFAULT_TTL_S = 600;

export class FlashSaleService {
  constructor(
    readonly store: SaleStore,
    readonly control: ControlLoop,
    private readonly now: () => number = Date.now,
  ) {}

  #fromInput(id: string, input: Input): Omit<Sale, 'paused' | 'endedEarlyAt' | 'loadedAt'> {
    const startsAt = parseTime('startsAt', input.startsAt);
    const endsAt = parseTime('endsAt', input.endsAt);
    assertWindow(startsAt, endsAt, this.now());
    return {
      id,
      sku: input.sku,
      title: input.title,
      priceMinor: input.priceMinor,
      currency: input.currency,
      stock: input.stock,
      perUserLimit: input.perUserLimit,
      startsAt,
      endsAt,
      powDifficulty: input.powDifficulty ?? 0,
      reservationTtlMs: (input.reservationTtlSeconds ?? DEFAULT_TTL_S) * 1000,
    };
  }

  /** Creates a sale once per Idempotency-Key: a replay answers the first result; another body is a 422. */
  async create(
    input: Input,
    idempotencyKey: string,
    operator: string,
  ): Promise<{ status: number; body: { saleId: string } }> {
    const fingerprint = createHash('sha256').update(JSON.stringify(input)).digest('base64url');
    const scope = `create:${operator}`;
    const previous = await this.store.idempotent(scope, idempotencyKey);
    if (previous) {
      if (previous.fingerprint !== fingerprint) throw FlashSaleErrors.IDEMPOTENCY_KEY_REUSED();
      return { status: previous.status, body: previous.body as { saleId: string } };
    }
    const sale = this.#fromInput(newSaleId(), input);
    // Record and sale commit together; of two concurrent requests with one key, one creates, one replays.
    const created = await withTransaction(this.store.pool, async (db) => {
      if (!(await this.store.remember(scope, idempotencyKey, fingerprint, 201, { saleId: sale.id }, db)))
        return undefined;
      return this.store.insert(sale, operator, db);
    });
    if (!created) return this.create(input, idempotencyKey, operator);
    await this.control.load(created);
    return { status: 201, body: { saleId: created.id } };
  }

  async get(id: string): Promise<Sale> {
    const sale = await this.store.get(id);
    if (!sale) throw FlashSaleErrors.SALE_NOT_FOUND();
    return sale;
  }

  async update(id: string, patch: Patch): Promise<Sale> {
    const current = await this.get(id);
    if (current.startsAt <= this.now()) throw FlashSaleErrors.SALE_ALREADY_STARTED();
    if (current.loadedAt !== null && patch.stock !== undefined && patch.stock !== current.stock) {
      throw FlashSaleErrors.SALE_INVALID(
        'stock is fixed once the sale was loaded into the cells; create a new sale',
        {
          field: 'stock',
        },
      );
    }
    const merged: Input = {
      sku: patch.sku ?? current.sku,
      title: patch.title ?? current.title,
      priceMinor: patch.priceMinor ?? current.priceMinor,
      currency: patch.currency ?? current.currency,
      stock: patch.stock ?? current.stock,
      perUserLimit: patch.perUserLimit ?? current.perUserLimit,
      startsAt: patch.startsAt ?? new Date(current.startsAt).toISOString(),
      endsAt: patch.endsAt ?? new Date(current.endsAt).toISOString(),
      powDifficulty: patch.powDifficulty ?? current.powDifficulty,
      reservationTtlSeconds: patch.reservationTtlSeconds ?? current.reservationTtlMs / 1000,
    };
    const next = {
      ...this.#fromInput(id, merged),
      paused: current.paused,
      endedEarlyAt: null,
      loadedAt: null,
    };
    if (!(await this.store.updateBeforeStart(id, next, this.now())))
      throw FlashSaleErrors.SALE_ALREADY_STARTED();
    const updated = await this.get(id);
    await this.control.load(updated);
    return updated;
  }

  async setPaused(id: string, paused: boolean): Promise<Sale> {
    const sale = await this.get(id);
    if (sale.endedEarlyAt !== null || sale.endsAt <= this.now()) throw FlashSaleErrors.SALE_ENDED();
    await this.store.setPaused(id, paused);
    return this.get(id);
  }

  async end(id: string): Promise<Sale> {
    const sale = await this.get(id);
    const now = this.now();
    if (!(await this.store.endNow(id, now))) throw FlashSaleErrors.SALE_ENDED();
    await this.control.closeWindow(sale, now);
    return this.get(id);
  }
}
