/** The auth service's storage: credentials, refresh tokens, TOTP and recovery codes. */
import type { Pool, PoolClient } from '../kit/index.ts';

type Queryable = Pool | PoolClient;

export interface RefreshRow {
  id: string;
  family_id: string;
  user_id: string;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
}

export interface MfaRow {
  secret_enc: string;
  confirmed_at: Date | null;
  last_step: string;
}

export class AuthStore {
  constructor(readonly pool: Pool) {}

  async setPassword(userId: string, hash: string, db: Queryable = this.pool): Promise<void> {
    await db.query(
      `INSERT INTO auth_credentials (user_id, password_hash) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()`,
      [userId, hash],
    );
  }

  async passwordHash(userId: string): Promise<string | undefined> {
    const r = await this.pool.query<{ password_hash: string }>(
      'SELECT password_hash FROM auth_credentials WHERE user_id = $1',
      [userId],
    );
    return r.rows[0]?.password_hash;
  }

  async insertRefresh(
    db: Queryable,
    row: { hash: Buffer; familyId: string; userId: string; expiresAt: Date },
  ): Promise<void> {
    await db.query(
      'INSERT INTO auth_refresh_tokens (token_hash, family_id, user_id, expires_at) VALUES ($1, $2, $3, $4)',
      [row.hash, row.familyId, row.userId, row.expiresAt],
    );
  }

  /** Locks the token's row for the rest of the transaction, so two refreshes with it serialize. */
  async lockRefresh(db: PoolClient, hash: Buffer): Promise<RefreshRow | undefined> {
    const r = await db.query<RefreshRow>(
      'SELECT id, family_id, user_id, expires_at, used_at, revoked_at FROM auth_refresh_tokens WHERE token_hash = $1 FOR UPDATE',
      [hash],
    );
    return r.rows[0];
  }

  async markUsed(db: PoolClient, id: string): Promise<void> {
    await db.query('UPDATE auth_refresh_tokens SET used_at = now() WHERE id = $1', [id]);
  }

  async revokeFamily(db: Queryable, familyId: string): Promise<void> {
    await db.query(
      'UPDATE auth_refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL',
      [familyId],
    );
  }

  async revokeAllOfUser(db: Queryable, userId: string): Promise<number> {
    const r = await db.query(
      'UPDATE auth_refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL',
      [userId],
    );
    return r.rowCount ?? 0;
  }

  async mfa(userId: string, db: Queryable = this.pool): Promise<MfaRow | undefined> {
    const r = await db.query<MfaRow>(
      'SELECT secret_enc, confirmed_at, last_step FROM auth_mfa WHERE user_id = $1',
      [userId],
    );
    return r.rows[0];
  }

  async startMfa(userId: string, secretEnc: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO auth_mfa (user_id, secret_enc) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET secret_enc = EXCLUDED.secret_enc, last_step = -1
       WHERE auth_mfa.confirmed_at IS NULL`,
      [userId, secretEnc],
    );
  }

  /** Records the TOTP step as used; false when a concurrent login already used it or a later one. */
  async useStep(userId: string, step: number, db: Queryable = this.pool): Promise<boolean> {
    const r = await db.query('UPDATE auth_mfa SET last_step = $2 WHERE user_id = $1 AND last_step < $2', [
      userId,
      step,
    ]);
    return r.rowCount === 1;
  }

  async confirmMfa(db: PoolClient, userId: string, codeHashes: Buffer[]): Promise<void> {
    await db.query('UPDATE auth_mfa SET confirmed_at = now() WHERE user_id = $1', [userId]);
    await db.query('DELETE FROM auth_recovery_codes WHERE user_id = $1', [userId]);
    for (const h of codeHashes) {
      await db.query('INSERT INTO auth_recovery_codes (user_id, code_hash) VALUES ($1, $2)', [userId, h]);
    }
  }

  /** Spends a recovery code once; false when unknown or already used. */
  async useRecoveryCode(userId: string, hash: Buffer): Promise<boolean> {
    const r = await this.pool.query(
      'UPDATE auth_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL',
      [userId, hash],
    );
    return r.rowCount === 1;
  }

  /** Removes every credential of a user (GDPR erase). */
  async forget(db: Queryable, userId: string): Promise<void> {
    await db.query('DELETE FROM auth_credentials WHERE user_id = $1', [userId]);
    await db.query('DELETE FROM auth_mfa WHERE user_id = $1', [userId]);
    await db.query('DELETE FROM auth_recovery_codes WHERE user_id = $1', [userId]);
    await db.query(
      'UPDATE auth_refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL',
      [userId],
    );
  }
}
