/**
 * HTTP routes of the flash-sale control plane: the operators' API (`/v1/admin/flash-sales`, proxied by
 * the edge) and the snapshot edges poll (`/internal/v1/flash-sales`, never proxied).
 */
import { Type } from '@sinclair/typebox';
import type { RequestContext, RouteTarget } from '../kit/index.ts';
import type { AccessClaims } from '../user/index.ts';
import type { ControlLoop } from './control-loop.ts';
import { type Sale, SaleInput, SalePatch } from './domain/sale.ts';
import { FlashSaleErrors } from './errors.ts';
import type { FlashSaleService } from './service.ts';

export interface FlashSaleRouteDeps {
  sales: FlashSaleService;
  control: ControlLoop;
  authenticate: (ctx: RequestContext) => Promise<AccessClaims>;
}

const SaleView = Type.Object({
  id: Type.String(),
  sku: Type.String(),
  title: Type.String(),
  priceMinor: Type.Integer(),
  currency: Type.String(),
  stock: Type.Integer(),
  perUserLimit: Type.Integer(),
  startsAt: Type.String(),
  endsAt: Type.String(),
  powDifficulty: Type.Integer(),
  reservationTtlSeconds: Type.Integer(),
  paused: Type.Boolean(),
  state: Type.String(),
  remaining: Type.Union([Type.Integer(), Type.Null()]),
});
const IdParams = Type.Object({ id: Type.String({ pattern: '^fs[a-z0-9]{6,40}$' }) });

export function registerFlashSaleRoutes(server: RouteTarget, deps: FlashSaleRouteDeps): void {
  const tags = ['flash-sales (operators)'];
  const operator = async (ctx: RequestContext) => {
    const caller = await deps.authenticate(ctx);
    if (!caller.roles.includes('operator')) throw FlashSaleErrors.FORBIDDEN();
    return caller;
  };
  const view = (sale: Sale) => {
    const snap = deps.control.snapshot(sale.id);
    return {
      id: sale.id,
      sku: sale.sku,
      title: sale.title,
      priceMinor: sale.priceMinor,
      currency: sale.currency,
      stock: sale.stock,
      perUserLimit: sale.perUserLimit,
      startsAt: new Date(sale.startsAt).toISOString(),
      endsAt: new Date(sale.endedEarlyAt ?? sale.endsAt).toISOString(),
      powDifficulty: sale.powDifficulty,
      reservationTtlSeconds: sale.reservationTtlMs / 1000,
      paused: sale.paused,
      state: snap?.state ?? 'scheduled',
      remaining: snap?.remaining ?? null,
    };
  };

  server.route(
    'POST',
    '/v1/admin/flash-sales',
    async (ctx) => {
      const caller = await operator(ctx);
      const key = ctx.headers['idempotency-key'];
      if (!key || key.length > 128) throw FlashSaleErrors.IDEMPOTENCY_KEY_REQUIRED();
      const r = await deps.sales.create(ctx.body, key, caller.userId);
      return { status: r.status, body: r.body };
    },
    {
      auth: true,
      tags,
      summary: 'Create and schedule a flash sale (needs Idempotency-Key)',
      body: SaleInput,
      response: { 201: Type.Object({ saleId: Type.String() }) },
    },
  );
  server.route(
    'GET',
    '/v1/admin/flash-sales/:id',
    async (ctx) => {
      await operator(ctx);
      return { body: view(await deps.sales.get(ctx.params.id!)) };
    },
    { auth: true, tags, summary: 'A sale with its state', params: IdParams, response: { 200: SaleView } },
  );
  server.route(
    'PATCH',
    '/v1/admin/flash-sales/:id',
    async (ctx) => {
      await operator(ctx);
      return { body: view(await deps.sales.update(ctx.params.id!, ctx.body)) };
    },
    {
      auth: true,
      tags,
      summary: 'Change a sale before it starts',
      params: IdParams,
      body: SalePatch,
      response: { 200: SaleView },
    },
  );
  for (const [action, run] of [
    ['pause', (id: string) => deps.sales.setPaused(id, true)],
    ['resume', (id: string) => deps.sales.setPaused(id, false)],
    ['end', (id: string) => deps.sales.end(id)],
  ] as const) {
    server.route(
      'POST',
      `/v1/admin/flash-sales/:id/${action}`,
      async (ctx) => {
        await operator(ctx);
        return { body: view(await run(ctx.params.id!)) };
      },
      {
        auth: true,
        tags,
        summary: `${action[0]!.toUpperCase()}${action.slice(1)} a sale`,
        params: IdParams,
        response: { 200: SaleView },
      },
    );
  }
  server.route(
    'GET',
    '/v1/admin/flash-sales/:id/ledger',
    async (ctx) => {
      await operator(ctx);
      return { body: await deps.control.ledger(await deps.sales.get(ctx.params.id!)) };
    },
    {
      auth: true,
      tags,
      summary: 'Reconciliation: sold + reserved + cell quotas + pool must equal the stock',
      params: IdParams,
    },
  );
  // Polled by the edges (loopback / cluster network only; the edge never proxies /internal).
  server.route('GET', '/internal/v1/flash-sales', () => ({ body: { sales: deps.control.snapshots() } }));
}
