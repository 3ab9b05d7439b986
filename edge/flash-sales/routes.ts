/**
 * The flash-sale API at the edge: sale status from memory, proof-of-work challenges, the purchase
 * (straight into the caller's cell engine: one batched Lua call per burst, no Redis round trip of its
 * own), and reservation status.
 */
import { Type } from '@sinclair/typebox';
import type { CellRouter, ShardClients } from '../../cells/index.ts';
import type { Engine, PurchaseOutcome } from '../../engine/index.ts';
import { parseReservationRecord } from '../../lua/flash-sale-purchase.ts';
import { saleCellKeys } from '../../lua/keys.ts';
import { issueChallenge, verifyProof } from '../../services/flash-sale/index.ts';
import { defineErrors, type Reply } from '../../services/kit/index.ts';
import type { EdgeRoute } from '../app.ts';
import type { KnownSale, SaleDirectory } from './directory.ts';

export const PurchaseErrors = defineErrors({
  SALE_NOT_FOUND: { status: 404, message: 'No such flash sale' },
  RESERVATION_NOT_FOUND: { status: 404, message: 'No such reservation' },
  IDEMPOTENCY_KEY_REQUIRED: {
    status: 400,
    message: 'A purchase needs an Idempotency-Key header (1-128 printable ASCII characters, no spaces)',
  },
  BAD_POW: { status: 400, message: 'The proof of work is missing, stale or wrong; get a new challenge' },
  BAD_QUANTITY: { status: 400, message: 'qty exceeds the per-user limit of this sale' },
  SOLD_OUT: { status: 409, message: 'Sold out' },
  LIMIT_REACHED: { status: 409, message: 'You reached the per-user limit of this sale' },
  NOT_STARTED: { status: 409, message: 'The sale has not started yet' },
  ENDED: { status: 409, message: 'The sale has ended' },
  SALE_PAUSED: { status: 409, message: 'The sale is paused; retry shortly' },
  BUSY: { status: 503, message: 'Busy; retry shortly with the same Idempotency-Key' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message:
      'This Idempotency-Key was used for a purchase with another quantity; use a new key for a new purchase',
  },
});

export interface FlashSaleRouteDeps {
  route: EdgeRoute;
  directory: SaleDirectory;
  engine: Engine;
  shards: ShardClients;
  router: () => CellRouter;
  powSecret: string;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
const SaleParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9]{1,64}$' }) });
const PurchaseBody = Type.Object(
  {
    qty: Type.Integer({ minimum: 1, maximum: 1000 }),
    pow: Type.Optional(
      Type.Object(
        { challenge: Type.String({ maxLength: 64 }), nonce: Type.String({ maxLength: 64 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
const Reserved = Type.Object({ reservationId: Type.String(), expiresAt: Type.String(), qty: Type.Integer() });
const ReservationParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9]{1,64}-[0-9]{1,5}-[0-9]{1,15}$' }),
});

/**
 * 503 BUSY with Retry-After. `reason` says why (clients retry all alike; operators read it): `quota_refill` (the
 * cell's quota ran out while stock remains elsewhere), `queue_full` (the cell's worker pool is saturated), or the
 * engine's retry reason (`redis_unavailable`, `timeout`, `worker_crashed`, ...).
 */
function busy(retryAfterMs: number, reason: string): never {
  throw PurchaseErrors.BUSY(undefined, {
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
    reason,
  });
}

export function registerFlashSaleRoutes(deps: FlashSaleRouteDeps): void {
  const { route, directory } = deps;
  const tags = ['flash-sales'];
  const known = async (id: string) => {
    const sale = directory.get(id) ?? (await directory.find(id));
    if (!sale) throw PurchaseErrors.SALE_NOT_FOUND();
    return sale;
  };

  const view = (sale: KnownSale) => ({
    id: sale.id,
    sku: sale.sku,
    title: sale.title,
    priceMinor: sale.priceMinor,
    currency: sale.currency,
    perUserLimit: sale.perUserLimit,
    startsAt: sale.startsAt,
    endsAt: sale.endsAt,
    state: directory.stateAt(sale, Date.now()),
    remaining: sale.remaining,
    powDifficulty: sale.powDifficulty,
  });

  route(
    'GET',
    '/v1/flash-sales',
    { access: 'public' },
    () => ({ body: { sales: directory.all().map(view) } }),
    { tags, summary: 'Sales scheduled, running, or ended within the last minute' },
  );

  route(
    'GET',
    '/v1/flash-sales/:id',
    { access: 'public' },
    async (ctx) => ({ body: view(await known(ctx.params.id!)) }),
    { tags, summary: 'A sale, its state and remaining stock (lags by under a second)', params: SaleParams },
  );

  route(
    'GET',
    '/v1/flash-sales/:id/challenge',
    { access: 'user' },
    async (ctx, caller) => {
      const sale = await known(ctx.params.id!);
      return {
        body: issueChallenge(
          deps.powSecret,
          caller!.identity.userId,
          sale.id,
          sale.powDifficulty,
          Date.now(),
        ),
      };
    },
    { tags, summary: 'A proof-of-work challenge bound to the caller and the sale', params: SaleParams },
  );

  route<{ qty: number; pow?: { challenge: string; nonce: string } }>(
    'POST',
    '/v1/flash-sales/:id/purchase',
    { access: 'user', cell: true },
    async (ctx, caller): Promise<Reply> => {
      const key = ctx.headers['idempotency-key'];
      if (!key || !IDEMPOTENCY_KEY.test(key)) throw PurchaseErrors.IDEMPOTENCY_KEY_REQUIRED();
      const sale = await known(ctx.params.id!);
      const now = Date.now();
      const userId = caller!.identity.userId;
      const { qty, pow } = ctx.body;
      if (qty > sale.perUserLimit)
        throw PurchaseErrors.BAD_QUANTITY(`qty must be at most ${sale.perUserLimit}`);
      const state = directory.stateAt(sale, now);
      if (state === 'scheduled') throw PurchaseErrors.NOT_STARTED();
      if (state === 'ended') throw PurchaseErrors.ENDED();
      if (state === 'paused') throw PurchaseErrors.SALE_PAUSED(undefined, { retryAfterSeconds: 5 });
      if (
        sale.powDifficulty > 0 &&
        !(pow && verifyProof(deps.powSecret, userId, sale.id, sale.powDifficulty, pow, now))
      ) {
        throw PurchaseErrors.BAD_POW();
      }
      const outcome = await deps.engine.flashSale(caller!.cell, {
        saleId: sale.id,
        userId,
        quantity: qty,
        idempotencyKey: key,
        at: now,
      });
      return answer(outcome, sale.id, caller!.cell, qty, sale.remaining);
    },
    {
      tags,
      summary: 'Reserve units of a sale (needs Idempotency-Key; a replay answers the first result)',
      params: SaleParams,
      body: PurchaseBody,
      response: { 200: Reserved },
    },
  );

  route(
    'GET',
    '/v1/reservations/:id',
    { access: 'user' },
    async (ctx, caller) => {
      const [saleId, cellText, rid] = ctx.params.id!.split('-') as [string, string, string];
      const cell = Number(cellText);
      const router = deps.router();
      if (!router.has(cell)) throw PurchaseErrors.RESERVATION_NOT_FOUND();
      const record = await deps.shards
        .clientFor(router, cell)
        .hget(saleCellKeys(cellText, saleId).reservations, rid);
      const r = parseReservationRecord(record);
      // Another user's reservation is reported as missing: ids must not reveal who bought what.
      if (!r || r.userId !== caller!.identity.userId) throw PurchaseErrors.RESERVATION_NOT_FOUND();
      return {
        body: {
          reservationId: ctx.params.id,
          saleId,
          status: r.state,
          qty: r.qty,
          expiresAt: new Date(r.expiresAt).toISOString(),
        },
      };
    },
    { tags, summary: 'The status of one of my reservations', params: ReservationParams },
  );
}

/** Maps the engine's outcome to the HTTP answer. */
function answer(
  outcome: PurchaseOutcome,
  saleId: string,
  cell: number,
  qty: number,
  remaining: number,
): Reply {
  const o = outcome.status === 'duplicate' ? outcome.original : outcome;
  switch (o.status) {
    case 'reserved': {
      // A replayed answer copied by a slot move names the cell the reservation lives in: `<cell>/<rid>`.
      const slash = o.reservationId.indexOf('/');
      const where =
        slash < 0
          ? `${cell}-${o.reservationId}`
          : `${o.reservationId.slice(0, slash)}-${o.reservationId.slice(slash + 1)}`;
      return {
        body: {
          reservationId: `${saleId}-${where}`,
          expiresAt: new Date(o.expiresAt).toISOString(),
          qty,
        },
      };
    }
    case 'sold_out':
      // The cell's quota ran out while other cells or the pool still hold stock: the rebalancer is
      // moving some here, so the honest answer is "retry", not "sold out".
      if (outcome.status !== 'duplicate' && remaining > 0) busy(500, 'quota_refill');
      throw PurchaseErrors.SOLD_OUT();
    case 'limit_reached':
      throw PurchaseErrors.LIMIT_REACHED();
    case 'not_started':
      throw PurchaseErrors.NOT_STARTED();
    case 'ended':
      throw PurchaseErrors.ENDED();
    case 'key_reused':
      throw PurchaseErrors.IDEMPOTENCY_KEY_REUSED();
    case 'busy':
      return busy(o.retryAfterMs, 'queue_full');
    case 'retry':
      return busy(o.retryAfterMs, o.reason);
  }
}
