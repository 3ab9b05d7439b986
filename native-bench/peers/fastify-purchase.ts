/**
 * The peer of the edge's purchase path: a plain Fastify + ioredis server doing the same work the obvious way,
 * as a competent Fastify developer would write it (a weakened peer would make every ratio meaningless):
 * - the same JWT verification (jose, EdDSA, issuer/audience/required claims) against the same JWKS, with an
 *   lru-cache of verified tokens (same size and 60 s lifetime as the edge's);
 * - the same in-memory token buckets per IP and per user, with the same settings;
 * - the same cell routing (the platform's cell map) and the same purchase semantics: the platform's
 *   `lua/flash-sale-purchase.lua` with a batch of one, one EVALSHA per request (ioredis `defineCommand`,
 *   which falls back to EVAL on NOSCRIPT), auto-pipelining on, against the same Redis (same AOF setting);
 * - schema-validated body and params, a response schema (fast-json-stringify), no logging per request.
 * Port from TITAN_BENCH_PEER_PORT; Redis, map and JWKS from the platform's variables.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import { CellRouter, loadCellMap } from '../../cells/index.ts';
import { TokenBuckets } from '../../edge/rate-limit.ts';
import { decodePurchaseEntry, purchaseKeys } from '../../lua/flash-sale-purchase.ts';

const env = process.env;
const port = Number(env.TITAN_BENCH_PEER_PORT ?? 28090);
const redis = new Redis(env.TITAN_REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
const PURCHASE_LUA = readFileSync(new URL('../../lua/flash-sale-purchase.lua', import.meta.url), 'utf8');
redis.defineCommand('flashSalePurchase', { numberOfKeys: 6, lua: PURCHASE_LUA });
type PurchaseCommand = (...args: (string | number)[]) => Promise<string[]>;
const purchase = (redis as unknown as { flashSalePurchase: PurchaseCommand }).flashSalePurchase.bind(redis);

const router = new CellRouter(loadCellMap(env.TITAN_CELL_MAP!));
const jwks = createRemoteJWKSet(new URL(env.TITAN_AUTH_JWKS_URL!), { cooldownDuration: 5_000 });
const issuer = env.TITAN_AUTH_ISSUER ?? 'titan-auth';
const audience = env.TITAN_AUTH_AUDIENCE ?? 'titan';
const verified = new LRUCache<string, { userId: string; expiresAt: number }>({ max: 100_000, ttl: 60_000 });
const ipBuckets = new TokenBuckets({
  capacity: Number(env.TITAN_EDGE_IP_BURST ?? 1000),
  refillPerSecond: Number(env.TITAN_EDGE_IP_RATE ?? 500),
});
const userBuckets = new TokenBuckets({
  capacity: Number(env.TITAN_EDGE_USER_BURST ?? 40),
  refillPerSecond: Number(env.TITAN_EDGE_USER_RATE ?? 20),
});
const keysByCellSale = new Map<string, string[]>();

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly retryAfter?: number,
  ) {
    super(code);
  }
}

async function authenticate(header: string | undefined): Promise<string> {
  if (!header?.startsWith('Bearer ')) throw new HttpError(401, 'UNAUTHENTICATED');
  const token = header.slice(7);
  const hit = verified.get(token);
  if (hit && hit.expiresAt > Date.now()) return hit.userId;
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      algorithms: ['EdDSA'],
      requiredClaims: ['sub', 'exp', 'iat'],
    });
    const identity = { userId: payload.sub!, expiresAt: payload.exp! * 1000 };
    verified.set(token, identity, { ttl: Math.min(60_000, identity.expiresAt - Date.now()) });
    return identity.userId;
  } catch {
    throw new HttpError(401, 'UNAUTHENTICATED');
  }
}

function keysFor(cell: number, saleId: string): string[] {
  const id = `${cell}|${saleId}`;
  let keys = keysByCellSale.get(id);
  if (!keys) {
    keys = purchaseKeys(String(cell), saleId);
    keysByCellSale.set(id, keys);
  }
  return keys;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
const app = Fastify({ logger: false });

app.setErrorHandler((err, _req, reply) => {
  if (err instanceof HttpError) {
    if (err.retryAfter) reply.header('retry-after', String(err.retryAfter));
    return reply.code(err.status).send({ code: err.code, message: err.code });
  }
  const e = err as { statusCode?: number; validation?: unknown; message?: string };
  if (e.validation) return reply.code(400).send({ code: 'VALIDATION_FAILED', message: String(e.message) });
  return reply.code(e.statusCode ?? 500).send({ code: 'INTERNAL', message: 'internal error' });
});

app.get('/ready', async () => ({ ready: true }));

app.post<{ Params: { id: string }; Body: { qty: number } }>(
  '/v1/flash-sales/:id/purchase',
  {
    schema: {
      params: {
        type: 'object',
        properties: { id: { type: 'string', pattern: '^[A-Za-z0-9]{1,64}$' } },
        required: ['id'],
      },
      body: {
        type: 'object',
        properties: { qty: { type: 'integer', minimum: 1, maximum: 1000 } },
        required: ['qty'],
        additionalProperties: false,
      },
      response: {
        200: {
          type: 'object',
          properties: {
            reservationId: { type: 'string' },
            expiresAt: { type: 'string' },
            qty: { type: 'integer' },
          },
        },
      },
    },
  },
  async (req) => {
    const now = Date.now();
    if (ipBuckets.take(req.ip, now) > 0) throw new HttpError(429, 'RATE_LIMITED', 1);
    const userId = await authenticate(req.headers.authorization);
    if (userBuckets.take(userId, now) > 0) throw new HttpError(429, 'RATE_LIMITED', 1);
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
      throw new HttpError(400, 'IDEMPOTENCY_KEY_REQUIRED');
    }
    const saleId = req.params.id;
    const cell = router.route(userId);
    const { qty } = req.body;
    let reply: string[];
    try {
      reply = await purchase(...keysFor(cell, saleId), saleId, now, 1, userId, qty, key, now);
    } catch (err) {
      if (String((err as Error).message).startsWith('LUA_NOT_FOUND'))
        throw new HttpError(404, 'SALE_NOT_FOUND');
      throw new HttpError(503, 'BUSY', 1);
    }
    const result = decodePurchaseEntry(reply, 0);
    const r = result.status === 'duplicate' ? result.original : result;
    switch (r.status) {
      case 'reserved':
        return {
          reservationId: `${saleId}-${cell}-${r.reservationId}`,
          expiresAt: new Date(r.expiresAt).toISOString(),
          qty,
        };
      case 'sold_out':
        throw new HttpError(409, 'SOLD_OUT');
      case 'limit_reached':
        throw new HttpError(409, 'LIMIT_REACHED');
      case 'not_started':
        throw new HttpError(409, 'NOT_STARTED');
      case 'key_reused':
        throw new HttpError(422, 'IDEMPOTENCY_KEY_REUSED');
      default:
        throw new HttpError(409, 'ENDED');
    }
  },
);

await app.listen({ port, host: '127.0.0.1' });
const stop = async () => {
  await app.close();
  redis.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop).on('SIGINT', stop);
if (process.channel) process.once('disconnect', stop);
