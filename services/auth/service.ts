/** Authentication: registration, login (with TOTP), token issue and rotation, MFA enrollment, erase. */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { type Pool, withTransaction } from '../kit/index.ts';
import type { PiiCipher, Role, UserStore } from '../user/index.ts';
import {
  hashSecret,
  newRecoveryCodes,
  newRefreshToken,
  normalizeRecoveryCode,
} from './domain/opaque-token.ts';
import {
  assertPasswordStrength,
  dummyHash,
  hashPassword,
  type ScryptParams,
  verifyPassword,
} from './domain/password.ts';
import { matchTotp, newTotpSecret, otpauthUri } from './domain/totp.ts';
import { AuthErrors } from './errors.ts';
import type { SigningKeys } from './signing-keys.ts';
import { AuthStore } from './store.ts';
import type { LoginThrottle } from './throttle.ts';

export interface AuthSettings {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  scrypt: ScryptParams;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

export interface LoginInput {
  email: string;
  password: string;
  totp?: string | undefined;
  ip: string;
}

export class AuthService {
  readonly store: AuthStore;

  constructor(
    private readonly pool: Pool,
    private readonly users: UserStore,
    private readonly cipher: PiiCipher,
    private readonly keys: SigningKeys,
    private readonly throttle: LoginThrottle,
    private readonly settings: AuthSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.store = new AuthStore(pool);
  }

  async register(email: string, password: string, roles: Role[] = ['buyer']): Promise<string> {
    assertPasswordStrength(password, email);
    const hash = await hashPassword(password, this.settings.scrypt);
    return withTransaction(this.pool, async (db) => {
      const userId = await this.users.create(email, roles, db);
      await this.store.setPassword(userId, hash, db);
      return userId;
    });
  }

  async login(input: LoginInput): Promise<TokenPair> {
    const account = this.users.emailIndex(input.email);
    await this.throttle.assertAllowed(account, input.ip);
    const user = await this.users.findIdByEmail(input.email);
    const stored = user ? await this.store.passwordHash(user.id) : undefined;
    // Unknown accounts cost the same scrypt as known ones: timing must not tell them apart.
    const check = await verifyPassword(
      input.password,
      stored ?? (await dummyHash(this.settings.scrypt)),
      this.settings.scrypt,
    );
    if (!user || !stored || !check.ok) {
      await this.throttle.recordFailure(account, input.ip);
      throw AuthErrors.INVALID_CREDENTIALS();
    }
    const mfa = await this.store.mfa(user.id);
    if (mfa?.confirmed_at) {
      if (!input.totp) throw AuthErrors.MFA_REQUIRED();
      if (!(await this.#secondFactor(user.id, mfa.secret_enc, Number(mfa.last_step), input.totp))) {
        await this.throttle.recordFailure(account, input.ip);
        throw AuthErrors.INVALID_MFA_CODE();
      }
    }
    await this.throttle.recordSuccess(account);
    if (check.needsRehash)
      await this.store.setPassword(user.id, await hashPassword(input.password, this.settings.scrypt));
    return this.#issue(user.id, user.roles, randomUUID());
  }

  async #secondFactor(userId: string, secretEnc: string, lastStep: number, code: string): Promise<boolean> {
    if (/^\d{6}$/.test(code)) {
      const step = matchTotp(this.cipher.decrypt(secretEnc, 'totp-secret'), code, this.now(), lastStep);
      return step !== undefined && (await this.store.useStep(userId, step));
    }
    return this.store.useRecoveryCode(userId, hashSecret(normalizeRecoveryCode(code)));
  }

  /** Rotates a refresh token. A spent or revoked token revokes its whole family (theft signal). */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const outcome = await withTransaction(this.pool, async (db) => {
      const row = await this.store.lockRefresh(db, hashSecret(refreshToken));
      if (!row) return { error: AuthErrors.INVALID_REFRESH_TOKEN() };
      if (row.used_at || row.revoked_at) {
        await this.store.revokeFamily(db, row.family_id);
        return { error: AuthErrors.REFRESH_TOKEN_REUSED() };
      }
      if (row.expires_at.getTime() <= this.now()) return { error: AuthErrors.INVALID_REFRESH_TOKEN() };
      await this.store.markUsed(db, row.id);
      const user = await this.users.get(row.user_id);
      if (user.status !== 'active') return { error: AuthErrors.INVALID_REFRESH_TOKEN() };
      return { pair: await this.#issue(row.user_id, user.roles, row.family_id, db) };
    });
    // The family revocation must commit, so the error is thrown after the transaction.
    if ('error' in outcome) throw outcome.error;
    return outcome.pair;
  }

  async logout(refreshToken: string): Promise<void> {
    await withTransaction(this.pool, async (db) => {
      const row = await this.store.lockRefresh(db, hashSecret(refreshToken));
      if (row) await this.store.revokeFamily(db, row.family_id);
    });
  }

  async revokeAll(userId: string): Promise<number> {
    return this.store.revokeAllOfUser(this.pool, userId);
  }

  async enrollMfa(userId: string): Promise<{ secret: string; otpauthUri: string }> {
    const existing = await this.store.mfa(userId);
    if (existing?.confirmed_at) throw AuthErrors.MFA_ALREADY_ENABLED();
    const profile = await this.users.get(userId);
    const secret = newTotpSecret();
    await this.store.startMfa(userId, this.cipher.encrypt(secret, 'totp-secret'));
    return { secret, otpauthUri: otpauthUri(secret, profile.email ?? userId, this.settings.issuer) };
  }

  async confirmMfa(userId: string, code: string): Promise<{ recoveryCodes: string[] }> {
    const mfa = await this.store.mfa(userId);
    if (!mfa) throw AuthErrors.MFA_NOT_ENROLLED();
    if (mfa.confirmed_at) throw AuthErrors.MFA_ALREADY_ENABLED();
    const step = matchTotp(
      this.cipher.decrypt(mfa.secret_enc, 'totp-secret'),
      code,
      this.now(),
      Number(mfa.last_step),
    );
    if (step === undefined || !(await this.store.useStep(userId, step))) throw AuthErrors.INVALID_TOTP();
    const codes = newRecoveryCodes();
    await withTransaction(this.pool, (db) =>
      this.store.confirmMfa(
        db,
        userId,
        codes.map((c) => hashSecret(c)),
      ),
    );
    return { recoveryCodes: codes };
  }

  /** GDPR erase: personal data and every credential go; sessions end. */
  async erase(userId: string): Promise<void> {
    await withTransaction(this.pool, async (db) => {
      await this.store.forget(db, userId);
      await this.users.erase(userId, db);
    });
  }

  async #issue(
    userId: string,
    roles: Role[],
    familyId: string,
    db: Pool | import('../kit/index.ts').PoolClient = this.pool,
  ): Promise<TokenPair> {
    const key = await this.keys.active();
    const nowSec = Math.floor(this.now() / 1000);
    const accessToken = await new SignJWT({ roles })
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt(nowSec)
      .setExpirationTime(nowSec + this.settings.accessTokenTtlSeconds)
      .setJti(randomUUID())
      .sign(key.privateKey);
    const refreshToken = newRefreshToken();
    await this.store.insertRefresh(db, {
      hash: hashSecret(refreshToken),
      familyId,
      userId,
      expiresAt: new Date(this.now() + this.settings.refreshTokenTtlSeconds * 1000),
    });
    return { accessToken, refreshToken, expiresIn: this.settings.accessTokenTtlSeconds, tokenType: 'Bearer' };
  }
}
