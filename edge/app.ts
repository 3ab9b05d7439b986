/**
 * Builds the edge from its settings: the HTTP server, authentication, rate limits, cell routing,
 * the proxy to services, the WebSocket hub and the OpenAPI document. Used by main.ts and by tests.
 */
import { Type } from '@sinclair/typebox';
import { ShardClients } from '../cells/index.ts';
import { createEngine } from '../engine/index.ts';
import { registerAuthRoutes } from '../services/auth/index.ts';
import { registerCatalogRoutes } from '../services/catalog/index.ts';
import { registerFlashSaleRoutes as registerSaleAdminRoutes } from '../services/flash-sale/index.ts';
import {
  type Handler,
  type Health,
  HttpServer,
  type Logger,
  type Method,
  type Metrics,
  type Reply,
  type RequestContext,
  type RouteSchema,
} from '../services/kit/index.ts';
import { registerUserRoutes } from '../services/user/index.ts';
import { registerCellAdminRoutes } from './admin-cells.ts';
import { EdgeAuth } from './auth.ts';
import { CellRouting } from './cell-routing.ts';
import type { EdgeConfig } from './config.ts';
import { SaleDirectory } from './flash-sales/directory.ts';
import { SaleFeed } from './flash-sales/feed.ts';
import { registerPurchaseRoute } from './flash-sales/purchase-route.ts';
import { registerFlashSaleRoutes } from './flash-sales/routes.ts';
import { registerStatusRoute } from './flash-sales/status-route.ts';
import { type Caller, Guard, type RouteAccess } from './guard.ts';
import { buildOpenApi, RouteCollector } from './openapi.ts';
import { ServiceProxy, type Upstream } from './proxy.ts';
import { RedisRateLimiter, TokenBuckets } from './rate-limit.ts';
import { DEFAULT_WS, WebSocketHub } from './websocket.ts';

export interface EdgeDeps {
  config: EdgeConfig;
  log: Logger;
  metrics: Metrics;
  health: Health;
  /** For tests: replaces the remote-JWKS authenticator. */
  auth?: EdgeAuth;
}

export type { Caller, RouteAccess } from './guard.ts';

/** The edge's guarded route registration (`route` in createEdge), for modules that register edge routes. */
export type EdgeRoute = <B = unknown>(
  method: Method,
  pattern: string,
  access: RouteAccess,
  handler: (ctx: RequestContext<B>, caller: Caller | undefined) => Reply | Promise<Reply>,
  schema?: RouteSchema,
) => void;

export async function createEdge(deps: EdgeDeps) {
  const { config, log, metrics, health } = deps;
  const routing = new CellRouting(config.TITAN_CELL_MAP, log);
  const shards = new ShardClients(log);
  const auth =
    deps.auth ??
    new EdgeAuth({
      jwksUrl: config.TITAN_AUTH_JWKS_URL,
      issuer: config.TITAN_AUTH_ISSUER,
      audience: config.TITAN_AUTH_AUDIENCE,
    });
  const proxy = new ServiceProxy({ log });
  const server = new HttpServer({
    name: 'edge',
    log,
    metrics,
    health,
    maxBodyBytes: config.TITAN_EDGE_MAX_BODY_BYTES,
    bodyTimeoutMs: config.TITAN_EDGE_BODY_TIMEOUT_MS,
    trustProxy: config.TITAN_EDGE_TRUST_PROXY,
  });
  const ws = new WebSocketHub(server.app, auth, log, metrics, {
    ...DEFAULT_WS,
    messagesPerSecond: config.TITAN_WS_MESSAGES_PER_SECOND,
    idleTimeoutSeconds: config.TITAN_WS_IDLE_TIMEOUT_S,
  });
  const ipBuckets = new TokenBuckets({
    capacity: config.TITAN_EDGE_IP_BURST,
    refillPerSecond: config.TITAN_EDGE_IP_RATE,
  });
  const userBuckets = new TokenBuckets({
    capacity: config.TITAN_EDGE_USER_BURST,
    refillPerSecond: config.TITAN_EDGE_USER_RATE,
  });
  const authAttempts = new RedisRateLimiter((cell) => shards.scriptsFor(routing.router, cell), {
    name: 'edge-auth-ip',
    capacity: config.TITAN_EDGE_AUTH_ATTEMPTS_PER_MINUTE,
    refillPerSecond: Math.max(1, Math.round(config.TITAN_EDGE_AUTH_ATTEMPTS_PER_MINUTE / 60)),
  });
  const guard = new Guard({ auth, ipBuckets, userBuckets, routing, shards, metrics });
  metrics.gauge('cell_map_version', 'Version of the cell map this edge serves').set(routing.router.version);
  routing.onChange((r) =>
    metrics.gauge('cell_map_version', 'Version of the cell map this edge serves').set(r.version),
  );

  /** Registers an edge route behind its guard; `B` is the body type its schema declares. */
  const route: EdgeRoute = function route<B = unknown>(
    method: Method,
    pattern: string,
    access: RouteAccess,
    handler: (ctx: RequestContext<B>, caller: Caller | undefined) => Reply | Promise<Reply>,
    schema?: RouteSchema,
  ): void {
    server.route(method, pattern, guard.wrap(access, handler) as Handler, {
      ...schema,
      auth: access.access === 'user',
    });
  };

  // --- Routes the edge serves itself -------------------------------------------------------------
  route(
    'GET',
    '/v1/session',
    { access: 'user', cell: true },
    (_ctx, caller) => ({
      body: {
        userId: caller!.identity.userId,
        roles: caller!.identity.roles,
        cell: caller!.cell,
        slot: caller!.slot,
        mapVersion: routing.router.version,
      },
    }),
    {
      summary: 'Who the caller is and which cell serves them',
      tags: ['edge'],
      response: {
        200: Type.Object({
          userId: Type.String(),
          roles: Type.Array(Type.String()),
          cell: Type.Integer(),
          slot: Type.Integer(),
          mapVersion: Type.Integer(),
        }),
      },
    },
  );

  // --- The flash-sale hot path: the cells' engines, the sale directory, live updates ---------------
  const engine = createEngine({
    map: routing.router,
    logger: log,
    metrics,
    replicaWait: {
      replicas: config.TITAN_ENGINE_WAIT_REPLICAS,
      timeoutMs: config.TITAN_ENGINE_WAIT_TIMEOUT_MS,
    },
  });
  routing.onChange((router) => engine.applyMap(router));
  registerCellAdminRoutes(route, {
    routing,
    log,
    shards,
    engineStats: () => engine.stats(),
    moveDrainMs: config.TITAN_SLOT_MOVE_DRAIN_MS,
  });
  const directory = new SaleDirectory(config.TITAN_FLASH_SALE_URL, log);
  const feed = new SaleFeed(directory, ws);
  // A sale's lanes start when the edge first learns of it, before it opens: the first buyers get warm threads.
  directory.onChange((sale, previous) => {
    if (previous === undefined && directory.stateAt(sale, Date.now()) !== 'ended')
      void engine.warm('flashSale');
  });
  registerFlashSaleRoutes({
    route,
    directory,
    shards,
    router: () => routing.router,
    powSecret: config.TITAN_POW_SECRET,
  });
  registerPurchaseRoute({ server, guard, directory, engine, log, powSecret: config.TITAN_POW_SECRET });
  registerStatusRoute({ server, guard, directory, log });

  // --- Routes owned by services, proxied ---------------------------------------------------------
  const upstreams: Record<string, Upstream> = {
    auth: { name: 'auth', origin: config.TITAN_AUTH_URL },
    user: { name: 'user', origin: config.TITAN_USER_URL },
    flashSale: { name: 'flash-sale', origin: config.TITAN_FLASH_SALE_URL },
    catalog: { name: 'catalog', origin: config.TITAN_CATALOG_URL },
  };
  // The services' own route declarations, collected (not served) for the OpenAPI document.
  const proxied = new RouteCollector();
  const none = undefined as never;
  registerAuthRoutes(proxied, { auth: none, keys: none, authenticate: none });
  registerUserRoutes(proxied, { users: none, authenticate: none, erase: none });
  registerSaleAdminRoutes(proxied, { sales: none, control: none, authenticate: none });
  registerCatalogRoutes(proxied, { products: none, authenticate: none });
  const METHODS: Method[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  for (const [prefix, upstream] of [
    ['/v1/auth/*', upstreams.auth!],
    ['/v1/users/*', upstreams.user!],
    ['/v1/admin/flash-sales', upstreams.flashSale!],
    ['/v1/admin/flash-sales/*', upstreams.flashSale!],
    ['/v1/catalog/*', upstreams.catalog!],
  ] as const) {
    for (const method of METHODS) {
      server.route(
        method,
        prefix,
        guard.wrap({ access: 'public' }, async (ctx) => {
          if (method === 'POST' && (ctx.path === '/v1/auth/login' || ctx.path === '/v1/auth/register')) {
            const wait = await authAttempts
              .take(routing.router.route(ctx.ip), ctx.ip.replaceAll(':', '_'))
              .catch((err) => {
                // The auth service throttles logins itself; an unreachable shard must not lock everyone out.
                log.warn({ err: (err as Error).message }, 'auth-attempt limiter unavailable; allowing');
                return 0;
              });
            if (wait > 0) throw guard.limited('auth-attempts', wait);
          }
          return proxy.forward(upstream, ctx);
        }),
      );
    }
  }

  const openapi = () =>
    buildOpenApi(
      [...server.routes, ...proxied.routes].filter(
        (r) => !r.pattern.includes('*') && !r.pattern.startsWith('/internal'),
      ),
      {
        title: 'Titan Commerce API',
        version: '1',
      },
    );
  let openapiDoc: string | undefined;
  server.route('GET', '/v1/openapi.json', () => {
    openapiDoc ??= JSON.stringify(openapi());
    return { headers: { 'content-type': 'application/json' }, body: openapiDoc };
  });

  health.addCheck('cell-map', async () => routing.router.version);
  health.addCheck('shards', async () => {
    const { up, down } = await shards.pingAll(routing.router);
    if (up === 0) throw new Error(`no shard is reachable (${down.join(', ')})`);
    return { up, down };
  });

  return {
    server,
    ws,
    routing,
    shards,
    auth,
    proxy,
    route,
    openapi,
    engine,
    directory,
    start(port: number, host: string) {
      routing.watch();
      shards.monitor(() => routing.router);
      directory.start();
      feed.start();
      return server.listen(port, host);
    },
    async close() {
      ws.closeAll();
      await server.close(config.TITAN_SHUTDOWN_TIMEOUT_MS);
      feed.stop();
      directory.stop();
      await engine.close();
      routing.close();
      await proxy.close();
      await shards.close();
    },
  };
}

export type Edge = Awaited<ReturnType<typeof createEdge>>;
