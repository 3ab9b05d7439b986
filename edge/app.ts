/**
 * Builds the edge from its settings: the HTTP server, authentication, rate limits, cell routing,
 * the proxy to services, the WebSocket hub and the OpenAPI document. Used by main.ts and by tests.
 */
import { Type } from '@sinclair/typebox';
import { registerAuthRoutes } from '../services/auth/index.ts';
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
import { type Role, registerUserRoutes } from '../services/user/index.ts';
import { EdgeAuth, type Identity } from './auth.ts';
import { CellRouting } from './cell-routing.ts';
import type { EdgeConfig } from './config.ts';
import { EdgeErrors } from './errors.ts';
import { buildOpenApi, RouteCollector } from './openapi.ts';
import { ServiceProxy, type Upstream } from './proxy.ts';
import { RedisRateLimiter, TokenBuckets } from './rate-limit.ts';
import { ShardClients } from './shards.ts';
import { DEFAULT_WS, WebSocketHub } from './websocket.ts';

export interface EdgeDeps {
  config: EdgeConfig;
  log: Logger;
  metrics: Metrics;
  health: Health;
  /** For tests: replaces the remote-JWKS authenticator. */
  auth?: EdgeAuth;
}

/** What a guarded route's handler receives besides the request. */
export interface Caller {
  identity: Identity;
  /** The cell serving this user (after failover), and the slot the user hashes to. */
  cell: number;
  slot: number;
}

export interface RouteAccess {
  /** `user`: a valid access token is required; `public`: anyone. */
  access: 'user' | 'public';
  role?: Role;
  /** Attach the caller's cell, refusing with 503 CELL_UNAVAILABLE when it is unavailable. */
  cell?: boolean;
}

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
  const rejected = metrics.counter('edge_rate_limited_total', 'Requests refused by a rate limit', ['limit']);
  const unavailable = metrics.counter(
    'edge_cell_unavailable_total',
    'Requests refused because their cell was unavailable',
  );
  metrics.gauge('cell_map_version', 'Version of the cell map this edge serves').set(routing.router.version);
  routing.onChange((r) =>
    metrics.gauge('cell_map_version', 'Version of the cell map this edge serves').set(r.version),
  );

  function limited(limit: string, retryAfterMs: number, buckets?: TokenBuckets): never {
    rejected.inc({ limit });
    throw EdgeErrors.RATE_LIMITED(`Too many requests (${limit} limit); retry later`, {
      retryAfterSeconds: Math.ceil(retryAfterMs / 1000),
      ...(buckets ? { policy: buckets.policyHeader } : {}),
    });
  }

  /** Wraps a handler with the per-IP limit, authentication, role, per-user limit and cell routing. */
  function guard<B>(
    access: RouteAccess,
    handler: (ctx: RequestContext<B>, caller: Caller | undefined) => Reply | Promise<Reply>,
  ): Handler<B> {
    return async (ctx) => {
      const now = Date.now();
      const ipWait = ipBuckets.take(ctx.ip, now);
      if (ipWait > 0) limited('ip', ipWait, ipBuckets);
      if (access.access === 'public') return handler(ctx, undefined);
      const identity = await auth.authenticate(ctx.headers.authorization);
      if (access.role && !identity.roles.includes(access.role)) {
        throw EdgeErrors.FORBIDDEN(`This needs the ${access.role} role`);
      }
      const userWait = userBuckets.take(identity.userId, now);
      if (userWait > 0) limited('user', userWait, userBuckets);
      const router = routing.router;
      const slot = router.slotOf(identity.userId);
      const cell = router.routeSlot(slot);
      if (access.cell && !shards.cellUp(router, cell)) {
        unavailable.inc();
        throw EdgeErrors.CELL_UNAVAILABLE(undefined, { retryAfterSeconds: 1 });
      }
      return handler(ctx, { identity, cell, slot });
    };
  }

  /** Registers an edge route behind its guard; `B` is the body type its schema declares. */
  function route<B = unknown>(
    method: Method,
    pattern: string,
    access: RouteAccess,
    handler: (ctx: RequestContext<B>, caller: Caller | undefined) => Reply | Promise<Reply>,
    schema?: RouteSchema,
  ): void {
    server.route(method, pattern, guard(access, handler) as Handler, {
      ...schema,
      auth: access.access === 'user',
    });
  }

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

  // --- Routes owned by services, proxied ---------------------------------------------------------
  const upstreams: Record<string, Upstream> = {
    auth: { name: 'auth', origin: config.TITAN_AUTH_URL },
    user: { name: 'user', origin: config.TITAN_USER_URL },
  };
  const proxied = new RouteCollector();
  registerAuthRoutes(proxied, {
    auth: undefined as never,
    keys: undefined as never,
    authenticate: undefined as never,
  });
  registerUserRoutes(proxied, {
    users: undefined as never,
    authenticate: undefined as never,
    erase: undefined as never,
  });
  const METHODS: Method[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  for (const [prefix, upstream] of [
    ['/v1/auth/*', upstreams.auth!],
    ['/v1/users/*', upstreams.user!],
  ] as const) {
    for (const method of METHODS) {
      server.route(
        method,
        prefix,
        guard({ access: 'public' }, async (ctx) => {
          if (method === 'POST' && (ctx.path === '/v1/auth/login' || ctx.path === '/v1/auth/register')) {
            const wait = await authAttempts
              .take(routing.router.route(ctx.ip), ctx.ip.replaceAll(':', '_'))
              .catch((err) => {
                // The auth service throttles logins itself; an unreachable shard must not lock everyone out.
                log.warn({ err: (err as Error).message }, 'auth-attempt limiter unavailable; allowing');
                return 0;
              });
            if (wait > 0) limited('auth-attempts', wait);
          }
          return proxy.forward(upstream, ctx);
        }),
      );
    }
  }

  const openapi = () =>
    buildOpenApi([...server.routes.filter((r) => !r.pattern.includes('*')), ...proxied.routes], {
      title: 'Titan Commerce API',
      version: '1',
    });
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
    start(port: number, host: string) {
      routing.watch();
      shards.monitor(() => routing.router);
      return server.listen(port, host);
    },
    async close() {
      ws.closeAll();
      await server.close(config.TITAN_SHUTDOWN_TIMEOUT_MS);
      routing.close();
      await proxy.close();
      await shards.close();
    },
  };
}

export type Edge = Awaited<ReturnType<typeof createEdge>>;
