/**
 * Request authentication at the edge: access tokens are verified offline against the auth service's
 * JWKS (refetched on an unknown kid), and verified tokens are cached briefly so a client's burst of
 * requests costs one signature check. The cache is keyed by the token's signature segment (short to
 * hash) and an entry answers only a token equal to the cached one on every byte: that exact match is
 * what makes a cached answer safe. Failures are never cached, so garbage cannot evict good entries.
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
  readonly #cache: LRUCache<string, { token: string; identity: Identity }>;
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

  /**
   * The identity of an `Authorization` header whose token was verified recently, without waiting; undefined
   * when it must be verified (or refused) by authenticate().
   */
  cachedIdentity(authorization: string | undefined, now = Date.now()): Identity | undefined {
    if (authorization === undefined || authorization.length > 4096 || !authorization.startsWith(BEARER)) {
      return undefined;
    }
    const entry = this.#cache.get(signatureOf(authorization));
    if (entry === undefined || entry.identity.expiresAt <= now) return undefined;
    // The stored token has no prefix; compare it against the header's tail in place.
    if (entry.token.length !== authorization.length - BEARER.length || !authorization.endsWith(entry.token)) {
      return undefined;
    }
    this.hits++;
    return entry.identity;
  }

  async verifyToken(token: string): Promise<Identity> {
    const key = signatureOf(token);
    const cached = this.#cache.get(key);
    if (cached && cached.token === token) {
      if (cached.identity.expiresAt > Date.now()) {
        this.hits++;
        return cached.identity;
      }
      this.#cache.delete(key);
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
    if (ttl > 0) this.#cache.set(key, { token, identity }, { ttl });
    return identity;
  }
}

/** The JWS signature segment (after the last dot): unique per token and a twentieth of its length. */
function signatureOf(token: string): string {
  return token.slice(token.lastIndexOf('.') + 1);
}
