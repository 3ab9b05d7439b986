/**
 * Request authentication at the edge: access tokens are verified offline against the auth service's
 * JWKS (refetched on an unknown kid), and verified tokens are cached briefly so a client's burst of
 * requests costs one signature check. The cache key is the whole token: an exact match on every byte
 * is what makes a cached answer safe, and the Map hashes the string anyway. Failures are never
 * cached, so garbage cannot evict good entries.
 */
import { LRUCache } from 'lru-cache';
import { type AccessTokenVerifier, createAccessTokenVerifier } from '../services/auth/index.ts';
import { isTitanError } from '../services/kit/index.ts';
import type { AccessClaims } from '../services/user/index.ts';
import { EdgeErrors } from './errors.ts';

export type Identity = AccessClaims;

export interface EdgeAuthOptions {
  jwksUrl: string;
  issuer: string;
  audience: string;
  cacheMax?: number;
  cacheTtlMs?: number;
  /** For tests: a verifier to use instead of the remote JWKS one. */
  verifier?: AccessTokenVerifier;
}

const BEARER = 'Bearer ';

export class EdgeAuth {
  readonly #verify: AccessTokenVerifier;
  readonly #cache: LRUCache<string, Identity>;
  readonly #ttlMs: number;
  hits = 0;
  misses = 0;

  constructor(options: EdgeAuthOptions) {
    this.#verify =
      options.verifier ??
      createAccessTokenVerifier({
        jwks: new URL(options.jwksUrl),
        issuer: options.issuer,
        audience: options.audience,
      });
    this.#ttlMs = options.cacheTtlMs ?? 60_000;
    this.#cache = new LRUCache({ max: options.cacheMax ?? 100_000, ttlAutopurge: false });
  }

  /** The caller's identity from an `Authorization: Bearer` header, or UNAUTHENTICATED / TOKEN_EXPIRED. */
  async authenticate(authorization: string | undefined): Promise<Identity> {
    if (!authorization?.startsWith(BEARER) || authorization.length > 4096) throw EdgeErrors.UNAUTHENTICATED();
    return this.verifyToken(authorization.slice(BEARER.length));
  }

  async verifyToken(token: string): Promise<Identity> {
    const cached = this.#cache.get(token);
    if (cached) {
      if (cached.expiresAt > Date.now()) {
        this.hits++;
        return cached;
      }
      this.#cache.delete(token);
    }
    this.misses++;
    let identity: Identity;
    try {
      identity = await this.#verify(token);
    } catch (err) {
      if (isTitanError(err) && err.status === 401) throw err;
      throw EdgeErrors.UNAUTHENTICATED();
    }
    const ttl = Math.min(this.#ttlMs, identity.expiresAt - Date.now());
    if (ttl > 0) this.#cache.set(token, identity, { ttl });
    return identity;
  }
}
