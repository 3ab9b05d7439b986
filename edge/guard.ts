/**
 * What stands between a request and an edge route: the per-IP limit, authentication, the role, the
 * per-user limit and the caller's cell (refused while the cell is down or the user's slot is moving).
 *
 * Each step answers a refusal as a value, not a throw, so the purchase route can walk them without a
 * promise or an exception on its hit path; `wrap` turns them into the throwing handler the kit's routes use.
 */
import type { ShardClients } from '../cells/index.ts';
import type { Handler, Metrics, Reply, RequestContext, TitanError } from '../services/kit/index.ts';
import { isTitanError } from '../services/kit/index.ts';
import type { Role } from '../services/user/index.ts';
import type { EdgeAuth, Identity } from './auth.ts';
import type { CellRouting } from './cell-routing.ts';
import { EdgeErrors } from './errors.ts';
import type { TokenBuckets } from './rate-limit.ts';

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

export interface GuardDeps {
  auth: EdgeAuth;
  ipBuckets: TokenBuckets;
  userBuckets: TokenBuckets;
  routing: CellRouting;
  shards: ShardClients;
  metrics: Metrics;
}

export class Guard {
  readonly #deps: GuardDeps;
  readonly #rejected: ReturnType<Metrics['counter']>;
  readonly #unavailable: ReturnType<Metrics['counter']>;

  constructor(deps: GuardDeps) {
    this.#deps = deps;
    this.#rejected = deps.metrics.counter('edge_rate_limited_total', 'Requests refused by a rate limit', [
      'limit',
    ]);
    this.#unavailable = deps.metrics.counter(
      'edge_cell_unavailable_total',
      'Requests refused because their cell was unavailable',
    );
  }

  get auth(): EdgeAuth {
    return this.#deps.auth;
  }

  /** The per-IP limit: undefined when a token was taken. */
  ip(ip: string, now: number): TitanError | undefined {
    const wait = this.#deps.ipBuckets.take(ip, now);
    return wait > 0 ? this.limited('ip', wait, this.#deps.ipBuckets) : undefined;
  }

  /** Role, per-user limit and (when `access.cell`) the caller's cell, for an authenticated identity. */
  admit(identity: Identity, access: RouteAccess, now: number): Caller | TitanError {
    if (access.role && !identity.roles.includes(access.role)) {
      return EdgeErrors.FORBIDDEN(`This needs the ${access.role} role`);
    }
    const userWait = this.#deps.userBuckets.take(identity.userId, now);
    if (userWait > 0) return this.limited('user', userWait, this.#deps.userBuckets);
    const router = this.#deps.routing.router;
    const slot = router.slotOf(identity.userId);
    const cell = router.routeSlot(slot);
    if (access.cell) {
      // Being moved to another cell: served by neither the old nor the new owner until it lands.
      if (router.isMigrating(slot)) return EdgeErrors.SLOT_MOVING(undefined, { retryAfterSeconds: 1 });
      if (!this.#deps.shards.cellUp(router, cell)) {
        this.#unavailable.inc();
        return EdgeErrors.CELL_UNAVAILABLE(undefined, { retryAfterSeconds: 1 });
      }
    }
    return { identity, cell, slot };
  }

  /** A 429 RATE_LIMITED naming the limit, counted. */
  limited(limit: string, retryAfterMs: number, buckets?: TokenBuckets): TitanError {
    this.#rejected.inc({ limit });
    return EdgeErrors.RATE_LIMITED(`Too many requests (${limit} limit); retry later`, {
      retryAfterSeconds: Math.ceil(retryAfterMs / 1000),
      ...(buckets ? { policy: buckets.policyHeader } : {}),
    });
  }

  /** A kit handler behind the whole guard: every refusal is thrown as the kit expects. */
  wrap<B>(
    access: RouteAccess,
    handler: (ctx: RequestContext<B>, caller: Caller | undefined) => Reply | Promise<Reply>,
  ): Handler<B> {
    return async (ctx) => {
      const now = Date.now();
      const ipRefusal = this.ip(ctx.ip, now);
      if (ipRefusal) throw ipRefusal;
      if (access.access === 'public') return handler(ctx, undefined);
      const identity = await this.#deps.auth.authenticate(ctx.headers.authorization);
      const caller = this.admit(identity, access, now);
      if (isTitanError(caller)) throw caller;
      return handler(ctx, caller);
    };
  }
}
