/**
 * Offline verification of access tokens against the auth service's JWKS. Only EdDSA is accepted
 * (no `none`, no HMAC with the public key as secret), issuer and audience must match, and an
 * unknown `kid` makes the key set refresh (bounded by jose's cooldown).
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, jwtVerify } from 'jose';
import type { Role } from '../user/index.ts';
import { AuthErrors } from './errors.ts';

export interface AccessClaims {
  userId: string;
  roles: Role[];
  expiresAt: number;
}

export interface VerifierOptions {
  /** The JWKS URL (remote, refreshed on unknown kid) or a function returning the current key set. */
  jwks: URL | (() => Promise<JSONWebKeySet>);
  issuer: string;
  audience: string;
  /** Minimum time between JWKS refetches on unknown kid (remote only; default 5 s). */
  cooldownMs?: number;
}

export type AccessTokenVerifier = (token: string) => Promise<AccessClaims>;

export function createAccessTokenVerifier(options: VerifierOptions): AccessTokenVerifier {
  const keySet =
    options.jwks instanceof URL
      ? createRemoteJWKSet(options.jwks, {
          cooldownDuration: options.cooldownMs ?? 5_000,
          cacheMaxAge: 10 * 60_000,
        })
      : async (header: Parameters<ReturnType<typeof createLocalJWKSet>>[0]) =>
          createLocalJWKSet(await (options.jwks as () => Promise<JSONWebKeySet>)())(header);
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, keySet, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ['EdDSA'],
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      const roles = Array.isArray(payload.roles) ? (payload.roles as Role[]) : [];
      return { userId: payload.sub!, roles, expiresAt: payload.exp! * 1000 };
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw AuthErrors.TOKEN_EXPIRED();
      throw AuthErrors.UNAUTHENTICATED();
    }
  };
}

/** The token of an `Authorization: Bearer <token>` header, or UNAUTHENTICATED. */
export function bearerToken(header: string | undefined): string {
  const m = header ? /^Bearer ([\w-]+\.[\w-]+\.[\w-]*)$/.exec(header) : null;
  if (!m) throw AuthErrors.UNAUTHENTICATED();
  return m[1]!;
}
