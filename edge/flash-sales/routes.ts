/**
 * The flash-sale API at the edge: sale status from memory, proof-of-work challenges and reservation
 * status. The purchase and the sale's status have routes of their own (purchase-route.ts, status-route.ts).
 */
import { Type } from '@sinclair/typebox';
import type { CellRouter, ShardClients } from '../../cells/index.ts';
import { parseReservationRecord } from '../../lua/flash-sale-purchase.ts';
import { saleCellKeys } from '../../lua/keys.ts';
import { issueChallenge } from '../../services/flash-sale/index.ts';
import type { EdgeRoute } from '../app.ts';
import { PurchaseErrors, SaleParams } from './contract.ts';
import type { SaleDirectory } from './directory.ts';

export interface FlashSaleRouteDeps {
  route: EdgeRoute;
  directory: SaleDirectory;
  shards: ShardClients;
  router: () => CellRouter;
  powSecret: string;
}

const ReservationParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9]{1,64}-[0-9]{1,5}-[0-9]{1,15}$' }),
});

export function registerFlashSaleRoutes(deps: FlashSaleRouteDeps): void {
  const { route, directory } = deps;
  const tags = ['flash-sales'];
  const known = async (id: string) => {
    const sale = directory.get(id) ?? (await directory.find(id));
    if (!sale) throw PurchaseErrors.SALE_NOT_FOUND();
    return sale;
  };

  route(
    'GET',
    '/v1/flash-sales',
    { access: 'public' },
    () => {
      const now = Date.now();
      return { body: { sales: directory.all().map((s) => directory.view(s, now)) } };
    },
    { tags, summary: 'Sales scheduled, running, or ended within the last minute' },
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
