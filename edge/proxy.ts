/**
 * Forwards routes owned by services to them over undici connection pools (keep-alive), with the
 * request id, a continued W3C `traceparent` and the client address. Only idempotent methods are
 * retried, and only when the request never reached the service. A service that is down is a 503
 * UPSTREAM_UNAVAILABLE with Retry-After; a slow one a 504.
 */
import { errors, Pool } from 'undici';
import { isTitanError, type Logger, type Reply, type RequestContext } from '../services/kit/index.ts';
import { EdgeErrors } from './errors.ts';
import { nextTraceparent } from './trace.ts';

export interface Upstream {
  name: string;
  origin: string;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'host',
  // The edge's HTTP server already answered any 100-continue; undici refuses to send it (NotSupportedError).
  'expect',
]);
/** Upstream response headers the edge's own server writes: forwarding them would send them twice. */
const OWN_RESPONSE_HEADERS = new Set(['date', 'uwebsockets']);
const RETRYABLE_METHODS = new Set(['GET', 'HEAD']);
const NOT_REACHED = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'UND_ERR_SOCKET']);
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
const MAX_FORWARDED_HEADER_BYTES = 16 * 1024;

export interface ProxyOptions {
  connections?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  retries?: number;
  log: Logger;
}

// What undici (like node:http) accepts in a header value: one byte per character, no controls but tab.
const HEADER_VALUE_INVALID = /[^\t\x20-\x7e\x80-\xff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is exactly what is checked for
const ASCII = /^[\x00-\x7f]*$/;

/**
 * A header value as bytes for undici. uWS hands values over decoded as UTF-8; sending them on as
 * latin1 would make anything past U+00FF an undici error (a 502) and re-encode the rest. The value goes
 * on as the client's own bytes; what is still unsendable (DEL, say) is the client's bad request.
 */
function wireValue(name: string, value: string): string {
  const v = ASCII.test(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
  if (HEADER_VALUE_INVALID.test(v))
    throw EdgeErrors.BAD_HEADER(`Header ${name} holds characters HTTP does not allow`);
  return v;
}

export class ServiceProxy {
  readonly #pools = new Map<string, Pool>();
  readonly #opts: Required<Omit<ProxyOptions, 'log'>> & { log: Logger };

  constructor(options: ProxyOptions) {
    this.#opts = { connections: 32, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000, retries: 1, ...options };
  }

  #pool(upstream: Upstream): Pool {
    let pool = this.#pools.get(upstream.origin);
    if (!pool) {
      pool = new Pool(upstream.origin, {
        connections: this.#opts.connections,
        keepAliveTimeout: 30_000,
        headersTimeout: this.#opts.headersTimeoutMs,
        bodyTimeout: this.#opts.bodyTimeoutMs,
        connectTimeout: 2_000,
      });
      this.#pools.set(upstream.origin, pool);
    }
    return pool;
  }

  async forward(upstream: Upstream, ctx: RequestContext): Promise<Reply> {
    const headers: Record<string, string> = {};
    let headerBytes = 0;
    for (const k in ctx.headers) {
      if (HOP_BY_HOP.has(k)) continue;
      headers[k] = wireValue(k, ctx.headers[k]!);
      headerBytes += k.length + headers[k].length;
    }
    // A service's HTTP server drops a connection whose request head is too big, which would read as
    // "service unavailable" (a 503 that invites retries); refuse it here as what it is.
    if (headerBytes > MAX_FORWARDED_HEADER_BYTES) throw EdgeErrors.HEADERS_TOO_LARGE();
    headers['x-request-id'] = ctx.requestId;
    headers.traceparent = nextTraceparent(ctx.headers.traceparent);
    headers['x-forwarded-for'] = ctx.headers['x-forwarded-for']
      ? `${ctx.headers['x-forwarded-for']}, ${ctx.ip}`
      : ctx.ip;
    const path = ctx.rawQuery ? `${ctx.path}?${ctx.rawQuery}` : ctx.path;
    const body = ctx.rawBody.length > 0 ? ctx.rawBody : null;
    const attempts = RETRYABLE_METHODS.has(ctx.method) ? 1 + this.#opts.retries : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.#pool(upstream).request({ path, method: ctx.method, headers, body });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of r.body) {
          size += (chunk as Buffer).length;
          if (size > MAX_RESPONSE_BYTES)
            throw EdgeErrors.BAD_GATEWAY(`${upstream.name} answered more than 8 MiB`);
          chunks.push(chunk as Buffer);
        }
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) {
          if (v === undefined || HOP_BY_HOP.has(k) || OWN_RESPONSE_HEADERS.has(k) || k === 'x-request-id')
            continue;
          out[k] = Array.isArray(v) ? v.join(', ') : v;
        }
        return { status: r.statusCode, headers: out, body: Buffer.concat(chunks) };
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (attempt < attempts && NOT_REACHED.has(code)) continue;
        if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError) {
          throw EdgeErrors.UPSTREAM_TIMEOUT(`${upstream.name} did not answer in time`);
        }
        if (
          NOT_REACHED.has(code) ||
          err instanceof errors.ConnectTimeoutError ||
          err instanceof errors.SocketError
        ) {
          this.#opts.log.warn({ upstream: upstream.name, code }, 'upstream unavailable');
          throw EdgeErrors.UPSTREAM_UNAVAILABLE(`${upstream.name} is unavailable`, { retryAfterSeconds: 1 });
        }
        if (isTitanError(err)) throw err;
        this.#opts.log.error({ upstream: upstream.name, err }, 'proxy failure');
        throw EdgeErrors.BAD_GATEWAY(`${upstream.name} answered badly`);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}
