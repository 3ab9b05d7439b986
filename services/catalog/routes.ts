/**
 * HTTP routes of the catalog (`/v1/catalog`). Reads are public; writes need a role. PUT and DELETE
 * are idempotent by nature (a replay leaves the same state), so they need no Idempotency-Key: a
 * replayed PUT answers 200 with the same product (201 only for the request that created it), and
 * `updatedAt` does not move when nothing changed.
 */
import { Type } from '@sinclair/typebox';
import { queryObject, type RequestContext, type RouteTarget } from '../kit/index.ts';
import type { AccessClaims, Role } from '../user/index.ts';
import {
  CATEGORY_PATTERN,
  CURRENCY_PATTERN,
  LIMITS,
  SKU_PATTERN,
  validateProduct,
} from './domain/product.ts';
import { CatalogErrors } from './errors.ts';
import type { CatalogStore } from './store.ts';

export interface CatalogRouteDeps {
  products: CatalogStore;
  /** Verifies the request's bearer token (provided by the auth service's verifier). */
  authenticate: (ctx: RequestContext) => Promise<Pick<AccessClaims, 'userId' | 'roles'>>;
}

const Sku = Type.String({ pattern: SKU_PATTERN, description: 'Stock keeping unit: A-Z, 0-9 and -' });
const Category = Type.String({ pattern: CATEGORY_PATTERN, description: 'Lower-case slug' });

const ProductSchema = Type.Object({
  sku: Type.String(),
  title: Type.String(),
  description: Type.String(),
  brand: Type.String(),
  category: Type.String(),
  priceMinor: Type.Integer({ description: 'Price in minor units of `currency` (cents)' }),
  currency: Type.String(),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  active: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const ProductBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: LIMITS.title }),
    description: Type.Optional(Type.String({ maxLength: LIMITS.description })),
    brand: Type.Optional(Type.String({ maxLength: LIMITS.brand })),
    category: Category,
    priceMinor: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'Price in minor units (an integer: 1999 = 19.99)',
    }),
    currency: Type.String({ pattern: CURRENCY_PATTERN, description: 'ISO 4217 code, e.g. EUR' }),
    attributes: Type.Optional(
      Type.Record(Type.String({ maxLength: LIMITS.attributeKeyLength }), Type.Unknown(), {
        maxProperties: LIMITS.attributeKeys,
        description: `Free-form JSON document, at most ${LIMITS.attributesBytes} bytes`,
      }),
    ),
    active: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);

const SearchQuery = Type.Object({
  q: Type.Optional(
    Type.String({ maxLength: 200, description: 'Web-search syntax: words, "a phrase", -excluded, or' }),
  ),
  category: Type.Optional(Category),
  limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1..100, default 20' })),
  cursor: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$', description: 'nextCursor of the previous page' }),
  ),
});

const PageSchema = Type.Object({
  items: Type.Array(ProductSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
});

const SkuParams = Type.Object({ sku: Sku });

async function requireRole(
  deps: CatalogRouteDeps,
  ctx: RequestContext,
  allowed: readonly Role[],
): Promise<{ userId: string; roles: readonly string[] }> {
  const caller = await deps.authenticate(ctx);
  if (!caller.roles.some((r) => allowed.includes(r)))
    throw CatalogErrors.FORBIDDEN(`This needs the role ${allowed.join(' or ')}`);
  return caller;
}

export function registerCatalogRoutes(server: RouteTarget, deps: CatalogRouteDeps): void {
  const tags = ['catalog'];
  server.route(
    'GET',
    '/v1/catalog/products',
    async (ctx) => {
      // The values the schema checked (the last of a repeated parameter), not `ctx.query.get`'s first.
      const query = queryObject(ctx.query);
      return {
        body: await deps.products.find({
          q: query.q,
          category: query.category,
          limit: Number(query.limit ?? 20),
          cursor: query.cursor,
        }),
      };
    },
    {
      tags,
      summary: 'Search products (ranked full-text) or list them by sku; keyset-paginated',
      query: SearchQuery,
      response: { 200: PageSchema },
    },
  );
  server.route(
    'GET',
    '/v1/catalog/products/:sku',
    async (ctx) => ({ body: await deps.products.get(ctx.params.sku!) }),
    { tags, summary: 'One active product', params: SkuParams, response: { 200: ProductSchema } },
  );
  server.route(
    'GET',
    '/v1/catalog/autocomplete',
    async (ctx) => ({ body: { suggestions: await deps.products.suggest(queryObject(ctx.query).prefix!) } }),
    {
      tags,
      summary: 'Up to 10 product titles for a typed prefix, typo-tolerant',
      query: Type.Object({ prefix: Type.String({ minLength: 1, maxLength: 100 }) }),
      response: {
        200: Type.Object({
          suggestions: Type.Array(Type.Object({ sku: Type.String(), title: Type.String() }), {
            maxItems: 10,
          }),
        }),
      },
    },
  );
  server.route(
    'PUT',
    '/v1/catalog/products/:sku',
    async (ctx) => {
      const caller = await requireRole(deps, ctx, ['operator', 'seller']);
      const draft = validateProduct(ctx.params.sku!, ctx.body);
      const { product, created } = await deps.products.put(draft, {
        userId: caller.userId,
        mayReplaceAny: caller.roles.includes('operator'),
      });
      return { status: created ? 201 : 200, body: product };
    },
    {
      auth: true,
      tags,
      summary:
        'Create or replace a product (operator, or the seller who created it). Idempotent: a replay leaves the same state, no Idempotency-Key needed',
      params: SkuParams,
      body: ProductBody,
      response: { 200: ProductSchema, 201: ProductSchema },
    },
  );
  server.route(
    'DELETE',
    '/v1/catalog/products/:sku',
    async (ctx) => {
      await requireRole(deps, ctx, ['operator']);
      await deps.products.deactivate(ctx.params.sku!);
      return { status: 204 };
    },
    {
      auth: true,
      tags,
      summary: 'Withdraw a product from sale (operator; soft delete, idempotent)',
      params: SkuParams,
    },
  );
}
