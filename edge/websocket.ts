/**
 * `/v1/ws`: authenticated WebSocket clients subscribe to topics served by uWS pub/sub.
 * - Authentication: a token in the upgrade request (`Authorization: Bearer` or `?access_token=`),
 *   or a first message `{"op":"auth","token":"..."}`.
 * - Ops: `auth`, `subscribe`, `unsubscribe`, `ping`. A bad op, topic or message gets an error
 *   message, never a disconnect; only sustained abuse of the per-connection rate limit closes (1008).
 * - Backpressure: replies are skipped while a socket's send buffer is over the limit, and uWS drops
 *   (and with closeOnBackpressureLimit, closes) subscribers too slow to keep up with publishing, so
 *   one slow reader never grows the edge's memory.
 */

import type { TemplatedApp, WebSocket } from '../services/kit/http/uws.ts';
import type { Logger, Metrics } from '../services/kit/index.ts';
import type { EdgeAuth, Identity } from './auth.ts';

export interface WsSettings {
  /** Topics a client may subscribe to. */
  topicPattern: RegExp;
  maxSubscriptions: number;
  /** Messages per second a connection may send (burst = 2x). */
  messagesPerSecond: number;
  idleTimeoutSeconds: number;
  maxPayloadBytes: number;
  maxBackpressureBytes: number;
}

export const DEFAULT_WS: WsSettings = {
  topicPattern: /^flash-sale:[A-Za-z0-9_.-]{1,64}$/,
  maxSubscriptions: 32,
  messagesPerSecond: 20,
  idleTimeoutSeconds: 60,
  maxPayloadBytes: 4096,
  maxBackpressureBytes: 256 * 1024,
};

interface Conn {
  identity: Identity | undefined;
  subscriptions: Set<string>;
  tokens: number;
  at: number;
  strikes: number;
}

const decoder = new TextDecoder();

export class WebSocketHub {
  readonly #sockets = new Set<WebSocket<Conn>>();
  readonly #open;
  readonly #dropped;

  constructor(
    private readonly app: TemplatedApp,
    private readonly auth: EdgeAuth,
    private readonly log: Logger,
    metrics: Metrics,
    private readonly settings: WsSettings = DEFAULT_WS,
  ) {
    this.#open = metrics.gauge('ws_connections', 'Open WebSocket connections');
    this.#dropped = metrics.counter(
      'ws_replies_dropped_total',
      'Replies skipped because the client read too slowly',
    );
    this.#install();
  }

  get connections(): number {
    return this.#sockets.size;
  }

  /** Publishes to every subscriber of `topic` (in this edge process). */
  publish(topic: string, message: string): boolean {
    return this.app.publish(topic, message, false);
  }

  subscribers(topic: string): number {
    return this.app.numSubscribers(topic);
  }

  /** Closes every connection with 1001 (going away): part of graceful shutdown. */
  closeAll(): void {
    for (const ws of this.#sockets) ws.end(1001, 'server shutting down');
  }

  #install(): void {
    const s = this.settings;
    this.app.ws<Conn>('/v1/ws', {
      idleTimeout: s.idleTimeoutSeconds,
      maxPayloadLength: s.maxPayloadBytes,
      maxBackpressure: s.maxBackpressureBytes,
      closeOnBackpressureLimit: 1, // a flag; this build's typings declare it a number
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        const header = req.getHeader('authorization');
        const token = header.startsWith('Bearer ') ? header.slice(7) : req.getQuery('access_token');
        const fresh = (identity: Identity | undefined): Conn => ({
          identity,
          subscriptions: new Set(),
          tokens: s.messagesPerSecond * 2,
          at: Date.now(),
          strikes: 0,
        });
        if (!token) {
          res.upgrade(fresh(undefined), key, protocol, extensions, context);
          return;
        }
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        this.auth.verifyToken(token).then(
          (identity) => {
            if (!aborted) res.cork(() => res.upgrade(fresh(identity), key, protocol, extensions, context));
          },
          (err: { status?: number; code?: string; message?: string }) => {
            if (aborted) return;
            res.cork(() => {
              res
                .writeStatus('401 Unauthorized')
                .writeHeader('content-type', 'application/json')
                .end(
                  JSON.stringify({
                    code: err.code ?? 'UNAUTHENTICATED',
                    message: err.message ?? 'invalid token',
                  }),
                );
            });
          },
        );
      },
      open: (ws) => {
        this.#sockets.add(ws);
        this.#open.inc();
      },
      close: (ws) => {
        this.#sockets.delete(ws);
        this.#open.dec();
      },
      message: (ws, message) => this.#onMessage(ws, message),
    });
  }

  #send(ws: WebSocket<Conn>, payload: Record<string, unknown>): void {
    if (ws.getBufferedAmount() > this.settings.maxBackpressureBytes) {
      this.#dropped.inc();
      return;
    }
    ws.send(JSON.stringify(payload), false);
  }

  #error(ws: WebSocket<Conn>, code: string, message: string, id?: unknown): void {
    this.#send(
      ws,
      id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id },
    );
  }

  #allowed(conn: Conn): boolean {
    const now = Date.now();
    const rate = this.settings.messagesPerSecond;
    conn.tokens = Math.min(rate * 2, conn.tokens + ((now - conn.at) * rate) / 1000);
    conn.at = now;
    if (conn.tokens >= 1) {
      conn.tokens -= 1;
      return true;
    }
    return false;
  }

  #onMessage(ws: WebSocket<Conn>, message: ArrayBuffer): void {
    const conn = ws.getUserData();
    if (!this.#allowed(conn)) {
      if (++conn.strikes > rateStrikesBeforeClose) {
        ws.end(1008, 'message rate limit exceeded');
        return;
      }
      this.#error(ws, 'RATE_LIMITED', `at most ${this.settings.messagesPerSecond} messages per second`);
      return;
    }
    let msg: { op?: unknown; topic?: unknown; token?: unknown; id?: unknown };
    try {
      msg = JSON.parse(decoder.decode(message));
    } catch {
      this.#error(ws, 'MALFORMED_MESSAGE', 'messages are JSON objects like {"op":"subscribe","topic":"..."}');
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.#error(ws, 'MALFORMED_MESSAGE', 'messages are JSON objects');
      return;
    }
    const id = typeof msg.id === 'string' || typeof msg.id === 'number' ? msg.id : undefined;
    switch (msg.op) {
      case 'ping':
        this.#send(ws, { type: 'pong', ...(id === undefined ? {} : { id }) });
        return;
      case 'auth':
        this.#authenticate(ws, msg.token, id);
        return;
      case 'subscribe':
      case 'unsubscribe':
        this.#subscription(ws, conn, msg.op, msg.topic, id);
        return;
      default:
        this.#error(ws, 'UNKNOWN_OP', 'op must be one of auth, subscribe, unsubscribe, ping', id);
    }
  }

  #authenticate(ws: WebSocket<Conn>, token: unknown, id: unknown): void {
    if (typeof token !== 'string' || token.length > 4096) {
      this.#error(ws, 'UNAUTHENTICATED', 'token must be a string', id);
      return;
    }
    this.auth.verifyToken(token).then(
      (identity) => {
        if (!this.#sockets.has(ws)) return; // closed while verifying
        ws.getUserData().identity = identity;
        this.#send(ws, { type: 'ack', op: 'auth', ...(id === undefined ? {} : { id }) });
      },
      (err: { code?: string; message?: string }) => {
        if (this.#sockets.has(ws))
          this.#error(ws, err.code ?? 'UNAUTHENTICATED', err.message ?? 'invalid token', id);
      },
    );
  }

  #subscription(
    ws: WebSocket<Conn>,
    conn: Conn,
    op: 'subscribe' | 'unsubscribe',
    topic: unknown,
    id: unknown,
  ): void {
    if (!conn.identity) {
      this.#error(ws, 'UNAUTHENTICATED', 'authenticate first: {"op":"auth","token":"..."}', id);
      return;
    }
    if (typeof topic !== 'string' || !this.settings.topicPattern.test(topic)) {
      this.#error(ws, 'BAD_TOPIC', 'unknown topic; topics look like flash-sale:<saleId>', id);
      return;
    }
    if (op === 'subscribe') {
      if (!conn.subscriptions.has(topic) && conn.subscriptions.size >= this.settings.maxSubscriptions) {
        this.#error(
          ws,
          'TOO_MANY_SUBSCRIPTIONS',
          `at most ${this.settings.maxSubscriptions} topics per connection`,
          id,
        );
        return;
      }
      conn.subscriptions.add(topic);
      ws.subscribe(topic);
    } else {
      conn.subscriptions.delete(topic);
      ws.unsubscribe(topic);
    }
    this.#send(ws, { type: 'ack', op, topic, ...(id === undefined ? {} : { id }) });
    this.log.debug({ op, topic, userId: conn.identity.userId }, 'ws subscription');
  }
}

const rateStrikesBeforeClose = 50;
