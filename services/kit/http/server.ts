/**
 * A small HTTP server on uWebSockets.js shared by the edge and the services: routes with path
 * parameters, bounded JSON bodies, request ids, `{code, message}` errors, per-route metrics,
 * `/health` `/ready` `/metrics`, and a graceful close that stops accepting and drains in-flight work.
 *
 * uWS rules kept here once so no route has to remember them: `onAborted` is registered before any
 * asynchronous step, everything needed from `req` is copied before the handler returns, and status,
 * headers and body are written inside one `cork`.
 */
import { STATUS_CODES } from 'node:http';
import type { Static, TSchema } from '@sinclair/typebox';
import { isTitanError } from '../errors.ts';
import type { Health } from '../health.ts';
import type { Logger } from '../logger.ts';
import { nextRequestId } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { HttpErrors } from './errors.ts';
import { type RouteMetrics, type RouteRecord, routeMetricsOf } from './route-metrics.ts';
import {
  type HttpRequest,
  type HttpResponse,
  requireNativeUws,
  type TemplatedApp,
  type us_listen_socket,
} from './uws.ts';
import { queryObject, type RouteSchema, Validator } from './validation.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS_WITH_BODY = new Set<Method>(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface RequestContext<TBody = unknown> {
  /** The JSON body, validated against the route's body schema when it declares one. */
  readonly body: TBody;
  readonly method: Method;
  readonly path: string;
  readonly query: URLSearchParams;
  /** The query string as received, without the `?`. */
  readonly rawQuery: string;
  /** Lower-case header names; repeated headers are joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly params: Readonly<Record<string, string>>;
  readonly requestId: string;
  readonly ip: string;
  /** Raw body bytes (empty for GET). */
  readonly rawBody: Buffer;
  /** The body parsed as JSON; throws MALFORMED_JSON (400) when it is not. Undefined when empty. */
  json(): unknown;
  readonly log: Logger;
  /** True once the client went away; a handler may stop early. */
  readonly aborted: boolean;
}

export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler<TBody = unknown> = (ctx: RequestContext<TBody>) => Reply | Promise<Reply>;

export interface RouteInfo {
  method: Method;
  pattern: string;
  schema: RouteSchema | undefined;
}

type BodyOf<S> = S extends { body: infer B extends TSchema } ? Static<B> : unknown;

export interface HttpServerOptions {
  name: string;
  log: Logger;
  metrics: Metrics;
  health: Health;
  maxBodyBytes?: number;
  /** Trust X-Forwarded-For / PROXY protocol for the client IP (only behind a trusted proxy). */
  trustProxy?: boolean;
  /** A request body must arrive completely within this time, or the request gets 408 (slow-drip defence). */
  bodyTimeoutMs?: number;
}

/** Anything routes can be registered on: the server itself, or a collector that only records them. */
export interface RouteTarget {
  route: HttpServer['route'];
}

const JSON_HEADERS = 'application/json; charset=utf-8';

class Context implements RequestContext {
  aborted = false;
  body: unknown = undefined;
  #json: unknown;
  #parsed = false;
  rawBody: Buffer = EMPTY;
  constructor(
    readonly method: Method,
    readonly path: string,
    readonly query: URLSearchParams,
    readonly rawQuery: string,
    readonly headers: Record<string, string>,
    readonly params: Record<string, string>,
    readonly requestId: string,
    readonly ip: string,
    readonly log: Logger,
  ) {}
  json(): unknown {
    if (!this.#parsed) {
      this.#parsed = true;
      if (this.rawBody.length === 0) return undefined;
      try {
        this.#json = JSON.parse(this.rawBody.toString('utf8'));
      } catch {
        throw HttpErrors.MALFORMED_JSON();
      }
    }
    return this.#json;
  }
}
const EMPTY = Buffer.alloc(0);

export class HttpServer {
  readonly app: TemplatedApp;
  readonly #opts: Required<HttpServerOptions>;
  readonly #metrics: RouteMetrics;
  readonly #methodsByPattern = new Map<string, Set<Method>>();
  /** Every route with its schema, for the OpenAPI document. */
  readonly routes: RouteInfo[] = [];
  #listenSocket: us_listen_socket | undefined;
  #inFlight = 0;
  /**
   * Requests still receiving their body, oldest first. The timeout is the same for all, so deadlines only
   * grow: the sweep pops expired ones from the front and a request costs one push, no Map.
   */
  #bodyWatches: BodyWatch[] = [];
  #bodyWatchHead = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #drained: (() => void) | undefined;
  #closing = false;
  #port = 0;

  constructor(options: HttpServerOptions) {
    const uws = requireNativeUws();
    this.app = uws.App();
    this.#opts = { maxBodyBytes: 64 * 1024, trustProxy: false, bodyTimeoutMs: 10_000, ...options };
    this.#metrics = routeMetricsOf(options.metrics.registry);
    this.route('GET', '/health', () => ({ body: { status: 'ok' } }));
    this.route('GET', '/ready', async () => {
      const report = await options.health.readiness();
      return { status: report.ready ? 200 : 503, body: report };
    });
    this.route('GET', '/metrics', async () => ({
      headers: { 'content-type': options.metrics.contentType },
      body: await options.metrics.render(),
    }));
  }

  get port(): number {
    return this.#port;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** True once close() began: routes answer 503 SHUTTING_DOWN and close the connection. */
  get closing(): boolean {
    return this.#closing;
  }

  get maxBodyBytes(): number {
    return this.#opts.maxBodyBytes;
  }

  /**
   * Declares a route that a module serves on `app` itself (a hot path that cannot afford the generic request
   * context): it appears in `routes` (OpenAPI), other methods on its path get 405, and the returned DirectRoute
   * counts, answers and measures its requests as every kit route does. The module registers its uWS handler,
   * calls begin() per request, and answers SHUTTING_DOWN while `closing`.
   */
  direct(method: Method, pattern: string, schema?: RouteSchema): DirectRoute {
    this.routes.push({ method, pattern, schema });
    this.#allow(pattern, method);
    return new DirectRoute(this, this.#metrics.record(pattern, method));
  }

  /** A request started: counted in flight until end(), so close() waits for it. */
  begin(): void {
    this.#inFlight++;
    this.#metrics.inFlight++;
  }

  end(): void {
    this.#inFlight--;
    this.#metrics.inFlight--;
    if (this.#inFlight === 0 && this.#drained) this.#drained();
  }

  /** The client's address: the first X-Forwarded-For entry or the PROXY-protocol address when trusted. */
  clientIp(res: HttpResponse, forwardedFor: string | undefined): string {
    if (this.#opts.trustProxy) {
      if (forwardedFor) return forwardedFor.split(',')[0]!.trim();
      const proxied = Buffer.from(res.getProxiedRemoteAddressAsText()).toString();
      if (proxied) return proxied;
    }
    return Buffer.from(res.getRemoteAddressAsText()).toString();
  }

  /**
   * Starts the body deadline of a request: `expire` runs once if the body has not arrived in time
   * (answer 408 and close). Set `done` when the body arrived or the request ended otherwise.
   */
  watchBody(expire: () => void): BodyWatch {
    const watch: BodyWatch = { deadline: Date.now() + this.#opts.bodyTimeoutMs, done: false, expire };
    this.#bodyWatches.push(watch);
    return watch;
  }

  route<const S extends RouteSchema | undefined = undefined>(
    method: Method,
    pattern: string,
    handler: Handler<BodyOf<S>>,
    schema?: S,
  ): this {
    this.routes.push({ method, pattern, schema });
    const checks = schema && compileChecks(schema);
    const paramNames = pattern
      .split('/')
      .filter((s) => s.startsWith(':'))
      .map((s) => s.slice(1));
    this.#allow(pattern, method);
    const register = method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'del';
    const uwsMethod = register === ('delete' as string) ? 'del' : register;
    const checked: Handler = checks
      ? (ctx) => {
          checks.params?.parse(ctx.params);
          checks.query?.parse(queryObject(ctx.query));
          if (checks.body) (ctx as Context).body = checks.body.parse(ctx.json());
          return handler(ctx as RequestContext<BodyOf<S>>);
        }
      : (ctx) => {
          if (ctx.rawBody.length > 0) (ctx as Context).body = ctx.json();
          return handler(ctx as RequestContext<BodyOf<S>>);
        };
    const record = this.#metrics.record(pattern, method);
    this.app[uwsMethod](pattern, (res, req) => this.#serve(res, req, method, record, paramNames, checked));
    return this;
  }

  #allow(pattern: string, method: Method): void {
    let methods = this.#methodsByPattern.get(pattern);
    if (!methods) {
      methods = new Set();
      this.#methodsByPattern.set(pattern, methods);
      // Any other method on a known path is a 405 with the methods that are allowed.
      this.app.any(pattern, (res, req) => {
        const allowed = [...(this.#methodsByPattern.get(pattern) ?? [])].join(', ');
        const requestId = req.getHeader('x-request-id') || nextRequestId();
        this.#writeError(res, HttpErrors.METHOD_NOT_ALLOWED(`Use ${allowed} on ${pattern}`), requestId, {
          allow: allowed,
        });
        this.#metrics.record(pattern, req.getCaseSensitiveMethod()).countOnly(405);
      });
    }
    methods.add(method);
  }

  #serve(
    res: HttpResponse,
    req: HttpRequest,
    method: Method,
    record: RouteRecord,
    paramNames: string[],
    handler: Handler,
  ): void {
    const started = performance.now();
    const headers: Record<string, string> = {};
    req.forEach((k, v) => {
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    });
    const params: Record<string, string> = {};
    let badParam: string | undefined;
    for (let i = 0; i < paramNames.length; i++) {
      const value = safeDecode(req.getParameter(i) ?? '');
      if (value === undefined) badParam ??= paramNames[i]!;
      params[paramNames[i]!] = value ?? '';
    }
    const requestId = requestIdOf(headers['x-request-id']);
    const ip = this.clientIp(res, headers['x-forwarded-for']);
    const rawQuery = req.getQuery() ?? '';
    const ctx = new Context(
      method,
      req.getUrl(),
      new URLSearchParams(rawQuery),
      rawQuery,
      headers,
      params,
      requestId,
      ip,
      this.#opts.log,
    );
    this.begin();
    res.onAborted(() => {
      if (ctx.aborted) return;
      ctx.aborted = true;
      record.countOnly(499);
      this.end();
    });

    if (badParam !== undefined) {
      // Thrown here it would escape the uWS callback and abort the process: answer it instead.
      const err = HttpErrors.BAD_REQUEST(`path parameter ${badParam} is not valid percent-encoding`);
      this.#finish(res, ctx, record, started, errorReply(err));
      return;
    }
    if (this.#closing) {
      this.#finish(res, ctx, record, started, errorReply(HttpErrors.SHUTTING_DOWN(), { 'retry-after': '1' }));
      return;
    }

    const run = () => {
      let result: Reply | Promise<Reply>;
      try {
        result = handler(ctx);
      } catch (err) {
        this.#finish(res, ctx, record, started, this.#failure(err, ctx));
        return;
      }
      if (result instanceof Promise) {
        result.then(
          (reply) => this.#finish(res, ctx, record, started, reply),
          (err) => this.#finish(res, ctx, record, started, this.#failure(err, ctx)),
        );
      } else {
        this.#finish(res, ctx, record, started, result);
      }
    };

    if (!METHODS_WITH_BODY.has(method)) {
      run();
      return;
    }
    const length = headers['content-length'];
    // Repeated or malformed Content-Length (joined "5, 7" here) is how requests get smuggled: refuse it.
    if (length !== undefined && !/^\d{1,15}$/.test(length)) {
      this.#finish(
        res,
        ctx,
        record,
        started,
        errorReply(HttpErrors.BAD_REQUEST('Content-Length must be one non-negative integer')),
        true,
      );
      return;
    }
    const declared = Number(length ?? 0);
    if (declared > this.#opts.maxBodyBytes) {
      this.#finish(res, ctx, record, started, errorReply(HttpErrors.BODY_TOO_LARGE()), true);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const watch = this.watchBody(() =>
      this.#finish(res, ctx, record, started, errorReply(HttpErrors.REQUEST_TIMEOUT()), true),
    );
    res.onData((chunk, isLast) => {
      if (ctx.aborted) {
        watch.done = true;
        return;
      }
      size += chunk.byteLength;
      if (size > this.#opts.maxBodyBytes) {
        if (size - chunk.byteLength <= this.#opts.maxBodyBytes) {
          this.#finish(res, ctx, record, started, errorReply(HttpErrors.BODY_TOO_LARGE()), true);
        }
        return;
      }
      // uWS reuses the chunk's memory after this callback returns: copy it.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        watch.done = true;
        ctx.rawBody = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        run();
      }
    });
  }

  #failure(err: unknown, ctx: Context): Reply {
    return failureReply(err, ctx.log, ctx.requestId, ctx.path);
  }

  #finish(
    res: HttpResponse,
    ctx: Context,
    record: RouteRecord,
    started: number,
    reply: Reply,
    close = false,
  ): void {
    if (ctx.aborted) return;
    ctx.aborted = true; // answered: later callbacks (onData, a second finish) must not touch res
    writeReply(res, ctx.requestId, reply, close || this.#closing);
    record.observe(reply.status ?? 200, (performance.now() - started) / 1000);
    this.end();
  }

  #writeError(
    res: HttpResponse,
    err: { status: number; code: string; message: string },
    requestId: string,
    headers: Record<string, string> = {},
  ): void {
    res.cork(() => {
      res.writeStatus(statusLine(err.status));
      res.writeHeader('x-request-id', requestId);
      for (const k in headers) res.writeHeader(k, headers[k]!);
      res.writeHeader('content-type', JSON_HEADERS);
      res.end(JSON.stringify({ code: err.code, message: err.message }));
    });
  }

  /** Registers the 404 catch-all; call after all routes. */
  #installNotFound(): void {
    this.app.any('/*', (res, req) => {
      const requestId = req.getHeader('x-request-id') || nextRequestId();
      this.#writeError(
        res,
        HttpErrors.NOT_FOUND(`No route for ${req.getCaseSensitiveMethod()} ${req.getUrl()}`),
        requestId,
      );
      this.#metrics.record('404', req.getCaseSensitiveMethod()).countOnly(404);
    });
  }

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    this.#installNotFound();
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) {
          reject(new Error(`${this.#opts.name}: cannot listen on ${host}:${port} (port in use?)`));
          return;
        }
        this.#listenSocket = socket;
        this.#sweeper = setInterval(() => this.#sweepSlowBodies(), Math.min(1000, this.#opts.bodyTimeoutMs));
        this.#sweeper.unref();
        this.#port = requireNativeUws(true).us_socket_local_port(socket as never);
        this.#opts.log.info({ port: this.#port, host }, `${this.#opts.name} listening`);
        resolve(this.#port);
      });
    });
  }

  /** Stops accepting connections, then waits for in-flight requests (bounded by `timeoutMs`). */
  #sweepSlowBodies(): void {
    const now = Date.now();
    const queue = this.#bodyWatches;
    let head = this.#bodyWatchHead;
    while (head < queue.length && queue[head]!.deadline <= now) {
      const watch = queue[head++]!;
      if (!watch.done) {
        watch.done = true;
        watch.expire();
      }
    }
    if (head > 1024 && head * 2 > queue.length) {
      this.#bodyWatches = queue.slice(head);
      head = 0;
    }
    this.#bodyWatchHead = head;
  }

  async close(timeoutMs = 10_000): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweeper);
    this.#opts.health.markShuttingDown();
    if (this.#listenSocket) {
      requireNativeUws(true).us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = undefined;
    }
    if (this.#inFlight === 0) return;
    this.#opts.log.info({ inFlight: this.#inFlight }, 'draining in-flight requests');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.#inFlight} requests still in flight`)),
        timeoutMs,
      );
      this.#drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** A route served on uWS directly (see HttpServer.direct): its answers, metrics and in-flight count. */
export class DirectRoute {
  constructor(
    readonly server: HttpServer,
    readonly record: RouteRecord,
  ) {}

  /** A request of this route started (close() waits for it until reply() or aborted()). */
  begin(): void {
    this.server.begin();
  }

  /** Writes the answer (see writeReply), observes its status and duration, ends the request. */
  reply(res: HttpResponse, requestId: string, reply: Reply, startedAt: number, close = false): void {
    writeReply(res, requestId, reply, close || this.server.closing);
    this.record.observe(reply.status ?? 200, (performance.now() - startedAt) / 1000);
    this.server.end();
  }

  /** The client went away before the answer. */
  aborted(): void {
    this.record.countOnly(499);
    this.server.end();
  }
}

/** A request's body deadline (see HttpServer.watchBody). */
export interface BodyWatch {
  readonly deadline: number;
  done: boolean;
  readonly expire: () => void;
}

/**
 * `{code, message}`, plus `reason` when the details carry one (a machine-readable why for a retriable answer);
 * an error whose details carry `retryAfterSeconds` also gets a Retry-After header.
 */
export function errorReply(
  err: {
    status: number;
    code: string;
    message: string;
    details?: Readonly<Record<string, unknown>> | undefined;
  },
  headers?: Record<string, string>,
): Reply {
  const wait = err.details?.retryAfterSeconds;
  const all =
    typeof wait === 'number' ? { ...headers, 'retry-after': String(Math.max(1, Math.ceil(wait))) } : headers;
  const reason = err.details?.reason;
  return {
    status: err.status,
    body:
      typeof reason === 'string'
        ? { code: err.code, message: err.message, reason }
        : { code: err.code, message: err.message },
    ...(all ? { headers: all } : {}),
  };
}

/** The answer to a thrown value: a TitanError's own, or 500 INTERNAL (logged) for anything else. */
export function failureReply(err: unknown, log: Logger, requestId: string, path: string): Reply {
  if (isTitanError(err)) {
    // 503s are answers the platform gives on purpose (busy, cell unavailable, moving): not errors.
    if (err.status >= 500 && err.status !== 503) log.error({ err, requestId }, 'request failed');
    else if (err.status === 503) log.debug({ code: err.code, requestId }, 'answered 503');
    return errorReply(err);
  }
  log.error({ err, requestId, path }, 'unhandled error');
  return errorReply(HttpErrors.INTERNAL());
}

/** Status, request id, headers and body in one cork; a body that is not a string or bytes is sent as JSON. */
export function writeReply(res: HttpResponse, requestId: string, reply: Reply, close: boolean): void {
  const status = reply.status ?? 200;
  const body = reply.body;
  const payload =
    body === undefined
      ? ''
      : typeof body === 'string' || body instanceof Uint8Array
        ? body
        : JSON.stringify(body);
  res.cork(() => {
    res.writeStatus(statusLine(status));
    res.writeHeader('x-request-id', requestId);
    let hasType = false;
    if (reply.headers) {
      for (const k in reply.headers) {
        if (k === 'content-type') hasType = true;
        res.writeHeader(k, reply.headers[k]!);
      }
    }
    if (!hasType && payload !== '' && typeof body !== 'string') res.writeHeader('content-type', JSON_HEADERS);
    res.end(payload, close);
  });
}

/** The client's X-Request-Id when it is a sane one, or a new id. */
export function requestIdOf(header: string | undefined): string {
  return header && header.length <= 128 && /^[\w.:-]+$/.test(header) ? header : nextRequestId();
}

function compileChecks(schema: RouteSchema) {
  return {
    body: schema.body && new Validator(schema.body, 'body'),
    query: schema.query && new Validator(schema.query, 'query'),
    params: schema.params && new Validator(schema.params, 'params'),
  };
}

const statusLines = new Map<number, string>();
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (!line) {
    line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
    statusLines.set(status, line);
  }
  return line;
}

/** decodeURIComponent, or undefined for malformed percent-encoding (`%zz`, a lone `%E0`). */
export function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
