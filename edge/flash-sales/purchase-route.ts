/**
 * `POST /v1/flash-sales/:id/purchase`, the platform's hot path, served on uWS directly.
 *
 * The walk: headers (one pass) -> id -> body (`{"qty":N}` read in place) -> per-IP limit -> identity (a
 * cached token answers synchronously) -> per-user limit and cell -> Idempotency-Key -> the sale (from
 * memory) -> quantity, window, proof of work -> the cell's engine (one batched Lua call per burst) -> an
 * answer built once per batch. Anything unusual (a body that is not exactly `{"qty":N}`, an id that needs
 * decoding, a token not yet verified, a sale not yet loaded) takes the general step that gives the
 * same answers as every kit route; the common case allocates no context, no error and no promise chain.
 *
 * The kit still owns the route's OpenAPI entry, its 405s, its metrics and the graceful drain (HttpServer.direct);
 * the checks happen in the same order as on a kit route behind the guard.
 */
import type { Engine, PurchaseOutcome } from '../../engine/index.ts';
import { verifyProof } from '../../services/flash-sale/index.ts';
import {
  type BodyWatch,
  type DirectRoute,
  errorReply,
  failureReply,
  HttpErrors,
  type HttpRequest,
  type HttpResponse,
  type HttpServer,
  isTitanError,
  type Logger,
  type Reply,
  requestIdOf,
  safeDecode,
  type TitanError,
  Validator,
} from '../../services/kit/index.ts';
import type { Identity } from '../auth.ts';
import type { Caller, Guard, RouteAccess } from '../guard.ts';
import { IDEMPOTENCY_KEY, PurchaseBody, PurchaseErrors, Reserved, SaleParams } from './contract.ts';
import type { KnownSale, SaleDirectory } from './directory.ts';

export const PURCHASE_PATTERN = '/v1/flash-sales/:id/purchase';

export interface PurchaseRouteDeps {
  server: HttpServer;
  guard: Guard;
  directory: SaleDirectory;
  engine: Engine;
  log: Logger;
  powSecret: string;
}

type Proof = { challenge: string; nonce: string } | undefined;

const ACCESS: RouteAccess = { access: 'user', cell: true };
const SALE_ID = /^[A-Za-z0-9]{1,64}$/;
const CONTENT_LENGTH = /^\d{1,15}$/;
const JSON_TYPE = 'application/json; charset=utf-8';
const JSON_HEADERS = { 'content-type': JSON_TYPE };
const paramsCheck = new Validator(SaleParams, 'params');
const bodyCheck = new Validator(PurchaseBody, 'body');

/** A reply whose body is already the JSON text it sends. */
function prebuilt(reply: Reply): Reply {
  return {
    status: reply.status ?? 200,
    body: JSON.stringify(reply.body),
    headers: { ...reply.headers, 'content-type': JSON_TYPE },
  };
}

const asReply = (err: TitanError) => prebuilt(errorReply(err));
/** The answers a busy sale gives thousands of times a second, serialized once. */
const SOLD_OUT = asReply(PurchaseErrors.SOLD_OUT());
const LIMIT_REACHED = asReply(PurchaseErrors.LIMIT_REACHED());
const NOT_STARTED = asReply(PurchaseErrors.NOT_STARTED());
const ENDED = asReply(PurchaseErrors.ENDED());
const KEY_REUSED = asReply(PurchaseErrors.IDEMPOTENCY_KEY_REUSED());
const KEY_REQUIRED = asReply(PurchaseErrors.IDEMPOTENCY_KEY_REQUIRED());
const SALE_NOT_FOUND = asReply(PurchaseErrors.SALE_NOT_FOUND());
const SALE_PAUSED = asReply(PurchaseErrors.SALE_PAUSED(undefined, { retryAfterSeconds: 5 }));
const BAD_POW = asReply(PurchaseErrors.BAD_POW());
const TIMEOUT = asReply(HttpErrors.REQUEST_TIMEOUT());
const TOO_LARGE = asReply(HttpErrors.BODY_TOO_LARGE());
const SHUTTING_DOWN = prebuilt(errorReply(HttpErrors.SHUTTING_DOWN(), { 'retry-after': '1' }));
const BAD_LENGTH = asReply(HttpErrors.BAD_REQUEST('Content-Length must be one non-negative integer'));
const BAD_ENCODING = asReply(HttpErrors.BAD_REQUEST('path parameter id is not valid percent-encoding'));

const BUSY_MESSAGE = PurchaseErrors.BUSY().message;
const busyReplies = new Map<string, Reply>();
/**
 * 503 BUSY with Retry-After. `reason` says why (clients retry all alike; operators read it): `quota_refill` (the
 * cell's quota ran out while stock remains elsewhere), `queue_full` (the cell's worker pool is saturated), or the
 * engine's retry reason (`redis_unavailable`, `timeout`, `worker_crashed`, ...).
 */
function busy(retryAfterMs: number, reason: string): Reply {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const key = `${reason}:${seconds}`;
  let reply = busyReplies.get(key);
  if (reply === undefined) {
    reply = prebuilt(
      errorReply({
        status: PurchaseErrors.BUSY.status,
        code: PurchaseErrors.BUSY.code,
        message: BUSY_MESSAGE,
        details: { retryAfterSeconds: seconds, reason },
      }),
    );
    busyReplies.set(key, reply);
  }
  return reply;
}

/** The same expiry serves a whole batch: its ISO text is built once. */
let lastExpiry = Number.NaN;
let lastExpiryIso = '';
function isoOf(ms: number): string {
  if (ms !== lastExpiry) {
    lastExpiry = ms;
    lastExpiryIso = new Date(ms).toISOString();
  }
  return lastExpiryIso;
}

/** Maps the engine's outcome to the HTTP answer. */
export function purchaseAnswer(
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
      const rid = o.reservationId;
      const slash = rid.indexOf('/');
      const where = slash < 0 ? `${cell}-${rid}` : `${rid.slice(0, slash)}-${rid.slice(slash + 1)}`;
      return {
        status: 200,
        body: `{"reservationId":"${saleId}-${where}","expiresAt":"${isoOf(o.expiresAt)}","qty":${qty}}`,
        headers: JSON_HEADERS,
      };
    }
    case 'sold_out':
      // The cell's quota ran out while other cells or the pool still hold stock: the rebalancer is
      // moving some here, so the honest answer is "retry", not "sold out".
      if (outcome.status !== 'duplicate' && remaining > 0) return busy(500, 'quota_refill');
      return SOLD_OUT;
    case 'limit_reached':
      return LIMIT_REACHED;
    case 'not_started':
      return NOT_STARTED;
    case 'ended':
      return ENDED;
    case 'key_reused':
      return KEY_REUSED;
    case 'busy':
      return busy(o.retryAfterMs, 'queue_full');
    case 'retry':
      return busy(o.retryAfterMs, o.reason);
  }
}

/** `{"qty":N}` exactly, N in 1..1000 without a leading zero: its quantity; otherwise 0. */
export function quickQuantity(body: Buffer): number {
  const n = body.length;
  // {"qty":  is 7 bytes, then 1-4 digits, then }
  if (n < 9 || n > 12 || body[n - 1] !== 0x7d) return 0;
  if (
    body[0] !== 0x7b ||
    body[1] !== 0x22 ||
    body[2] !== 0x71 ||
    body[3] !== 0x74 ||
    body[4] !== 0x79 ||
    body[5] !== 0x22 ||
    body[6] !== 0x3a
  ) {
    return 0;
  }
  let qty = 0;
  for (let i = 7; i < n - 1; i++) {
    const d = body[i]! - 0x30;
    if (d < 0 || d > 9 || (d === 0 && i === 7)) return 0;
    qty = qty * 10 + d;
  }
  return qty <= 1000 ? qty : 0;
}

/** A repeated header joined with ", ", as on every kit route (so "5, 7" is refused as a Content-Length). */
const joined = (previous: string | undefined, value: string) =>
  previous === undefined ? value : `${previous}, ${value}`;

/** One purchase request from its first byte to its answer. */
class Purchase {
  #answered = false;
  #chunks: Buffer[] = [];
  #size = 0;
  /** The body deadline; set done once the body arrived or the request was answered. */
  watch: BodyWatch | undefined;
  saleId = '';
  authorization: string | undefined;
  idempotencyKey: string | undefined;
  contentLength: string | undefined;
  requestIdHeader: string | undefined;
  forwardedFor: string | undefined;
  requestId = '';
  ip = '';
  idNeedsCheck = false;

  constructor(
    readonly route: PurchaseRoute,
    readonly res: HttpResponse,
    readonly started: number,
  ) {}

  /** req.forEach's callback: keeps the headers the walk reads, in one pass. */
  readonly header = (k: string, v: string): void => {
    switch (k) {
      case 'authorization':
        this.authorization = joined(this.authorization, v);
        break;
      case 'idempotency-key':
        this.idempotencyKey = joined(this.idempotencyKey, v);
        break;
      case 'content-length':
        this.contentLength = joined(this.contentLength, v);
        break;
      case 'x-request-id':
        this.requestIdHeader = joined(this.requestIdHeader, v);
        break;
      case 'x-forwarded-for':
        this.forwardedFor = joined(this.forwardedFor, v);
        break;
    }
  };

  get answered(): boolean {
    return this.#answered;
  }

  aborted(): void {
    if (this.#answered) return;
    this.#answered = true;
    if (this.watch) this.watch.done = true;
    this.route.direct.aborted();
  }

  expire(): void {
    this.reply(TIMEOUT, true);
  }

  /** One chunk of the body (uWS reuses its memory after the callback: copied unless it is the whole body). */
  data(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.#answered) return;
    this.#size += chunk.byteLength;
    const max = this.route.server.maxBodyBytes;
    if (this.#size > max) {
      if (this.#size - chunk.byteLength <= max) this.reply(TOO_LARGE, true);
      return;
    }
    if (isLast) {
      this.watch!.done = true;
      const body =
        this.#chunks.length === 0
          ? Buffer.from(chunk)
          : Buffer.concat([...this.#chunks, Buffer.from(chunk.slice(0))]);
      this.route.run(this, body);
    } else {
      this.#chunks.push(Buffer.from(chunk.slice(0)));
    }
  }

  reply(reply: Reply, close = false): void {
    if (this.#answered) return;
    this.#answered = true;
    if (this.watch) this.watch.done = true;
    this.route.direct.reply(this.res, this.requestId, reply, this.started, close);
  }

  fail(err: unknown): void {
    this.reply(failureReply(err, this.route.log, this.requestId, PURCHASE_PATTERN));
  }
}

class PurchaseRoute {
  readonly server: HttpServer;
  readonly log: Logger;
  readonly #deps: PurchaseRouteDeps;
  readonly direct: DirectRoute;

  constructor(deps: PurchaseRouteDeps) {
    this.#deps = deps;
    this.server = deps.server;
    this.log = deps.log;
    this.direct = deps.server.direct('POST', PURCHASE_PATTERN, {
      tags: ['flash-sales'],
      summary: 'Reserve units of a sale (needs Idempotency-Key; a replay answers the first result)',
      params: SaleParams,
      body: PurchaseBody,
      response: { 200: Reserved },
      auth: true,
    });
    deps.server.app.post(PURCHASE_PATTERN, (res, req) => this.#receive(res, req));
  }

  #receive(res: HttpResponse, req: HttpRequest): void {
    const p = new Purchase(this, res, performance.now());
    req.forEach(p.header);
    p.requestId = requestIdOf(p.requestIdHeader);
    p.ip = this.server.clientIp(res, p.forwardedFor);
    const rawId = req.getParameter(0) ?? '';
    this.direct.begin();
    res.onAborted(() => p.aborted());

    if (SALE_ID.test(rawId)) {
      p.saleId = rawId;
    } else {
      const decoded = safeDecode(rawId);
      if (decoded === undefined) {
        p.reply(BAD_ENCODING);
        return;
      }
      p.saleId = decoded;
      p.idNeedsCheck = true;
    }
    if (this.server.closing) {
      p.reply(SHUTTING_DOWN);
      return;
    }
    // Repeated or malformed Content-Length (joined "5, 7" here) is how requests get smuggled: refuse it.
    if (p.contentLength !== undefined && !CONTENT_LENGTH.test(p.contentLength)) {
      p.reply(BAD_LENGTH, true);
      return;
    }
    if (Number(p.contentLength ?? 0) > this.server.maxBodyBytes) {
      p.reply(TOO_LARGE, true);
      return;
    }
    p.watch = this.server.watchBody(() => p.expire());
    res.onData((chunk, isLast) => p.data(chunk, isLast));
  }

  /** The body has arrived: validate, guard, then purchase. */
  run(p: Purchase, body: Buffer): void {
    let qty = quickQuantity(body);
    let pow: Proof;
    try {
      if (p.idNeedsCheck) paramsCheck.parse({ id: p.saleId });
      if (qty === 0) {
        const parsed = bodyCheck.parse(parseJson(body)) as { qty: number; pow?: Proof };
        qty = parsed.qty;
        pow = parsed.pow;
      }
    } catch (err) {
      p.fail(err);
      return;
    }
    const now = Date.now();
    const ipRefusal = this.#deps.guard.ip(p.ip, now);
    if (ipRefusal) {
      p.reply(errorReply(ipRefusal));
      return;
    }
    const identity = this.#deps.guard.auth.cachedIdentity(p.authorization, now);
    if (identity !== undefined) {
      this.#admitted(p, identity, qty, pow, now);
      return;
    }
    this.#deps.guard.auth.authenticate(p.authorization).then(
      (verified) => this.#admitted(p, verified, qty, pow, now),
      (err) => p.fail(err),
    );
  }

  #admitted(p: Purchase, identity: Identity, qty: number, pow: Proof, now: number): void {
    if (p.answered) return;
    const caller = this.#deps.guard.admit(identity, ACCESS, now);
    if (isTitanError(caller)) {
      p.reply(errorReply(caller));
      return;
    }
    const key = p.idempotencyKey;
    if (key === undefined || !IDEMPOTENCY_KEY.test(key)) {
      p.reply(KEY_REQUIRED);
      return;
    }
    const sale = this.#deps.directory.get(p.saleId);
    if (sale !== undefined) {
      this.#purchase(p, caller, sale, key, qty, pow, now);
      return;
    }
    this.#deps.directory.find(p.saleId).then(
      (found) => {
        if (found === undefined) p.reply(SALE_NOT_FOUND);
        else this.#purchase(p, caller, found, key, qty, pow, Date.now());
      },
      (err) => p.fail(err),
    );
  }

  #purchase(
    p: Purchase,
    caller: Caller,
    sale: KnownSale,
    key: string,
    qty: number,
    pow: Proof,
    now: number,
  ): void {
    if (p.answered) return;
    if (qty > sale.perUserLimit) {
      p.fail(PurchaseErrors.BAD_QUANTITY(`qty must be at most ${sale.perUserLimit}`));
      return;
    }
    const { directory, powSecret } = this.#deps;
    const state = directory.stateAt(sale, now);
    if (state === 'scheduled') {
      p.reply(NOT_STARTED);
      return;
    }
    if (state === 'ended') {
      p.reply(ENDED);
      return;
    }
    if (state === 'paused') {
      p.reply(SALE_PAUSED);
      return;
    }
    const userId = caller.identity.userId;
    if (
      sale.powDifficulty > 0 &&
      !(pow && verifyProof(powSecret, userId, sale.id, sale.powDifficulty, pow, now))
    ) {
      p.reply(BAD_POW);
      return;
    }
    this.#deps.engine
      .flashSale(caller.cell, { saleId: sale.id, userId, quantity: qty, idempotencyKey: key, at: now })
      .then(
        (outcome) => p.reply(purchaseAnswer(outcome, sale.id, caller.cell, qty, sale.remaining)),
        (err) => p.fail(err),
      );
  }
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw HttpErrors.MALFORMED_JSON();
  }
}

export function registerPurchaseRoute(deps: PurchaseRouteDeps): void {
  new PurchaseRoute(deps);
}
