/** The user service's storage. Nothing else reads or writes the `users` table. */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '../kit/index.ts';
import type { PiiCipher } from './domain/pii.ts';
import { normalizeEmail, type Profile, type Role } from './domain/profile.ts';
import { UserErrors } from './errors.ts';

type Queryable = Pool | PoolClient;

interface UserRow {
  id: string;
  email_enc: string | null;
  phone_enc: string | null;
  display_name: string | null;
  preferences: Record<string, unknown>;
  roles: Role[];
  status: 'active' | 'erased';
  created_at: Date;
}

export interface ProfilePatch {
  displayName?: string | null;
  phone?: string | null;
  preferences?: Record<string, unknown>;
}

export class UserStore {
  constructor(
    private readonly pool: Pool,
    private readonly pii: PiiCipher,
  ) {}

  #toProfile(row: UserRow): Profile {
    return {
      id: row.id,
      email: row.email_enc ? this.pii.decrypt(row.email_enc, 'email') : null,
      phone: row.phone_enc ? this.pii.decrypt(row.phone_enc, 'phone') : null,
      displayName: row.display_name,
      preferences: row.preferences,
      roles: row.roles,
      status: row.status,
      createdAt: row.created_at.toISOString(),
    };
  }

  emailIndex(email: string): string {
    return this.pii.blindIndex(normalizeEmail(email), 'email');
  }

  /** Creates a user; pass `db` to make it part of a caller's transaction. */
  async create(email: string, roles: Role[] = ['buyer'], db: Queryable = this.pool): Promise<string> {
    const normalized = normalizeEmail(email);
    const id = randomUUID();
    const r = await db.query(
      `INSERT INTO users (id, email_index, email_enc, roles) VALUES ($1, $2, $3, $4)
       ON CONFLICT (email_index) DO NOTHING`,
      [id, this.pii.blindIndex(normalized, 'email'), this.pii.encrypt(normalized, 'email'), roles],
    );
    if (r.rowCount === 0) throw UserErrors.EMAIL_TAKEN();
    return id;
  }

  async findIdByEmail(
    email: string,
    db: Queryable = this.pool,
  ): Promise<{ id: string; roles: Role[] } | undefined> {
    const r = await db.query<{ id: string; roles: Role[] }>(
      "SELECT id, roles FROM users WHERE email_index = $1 AND status = 'active'",
      [this.emailIndex(email)],
    );
    return r.rows[0];
  }

  async get(id: string): Promise<Profile> {
    const r = await this.pool.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    if (!r.rows[0]) throw UserErrors.USER_NOT_FOUND();
    return this.#toProfile(r.rows[0]);
  }

  async update(id: string, patch: ProfilePatch): Promise<Profile> {
    const sets: string[] = [];
    const values: unknown[] = [id];
    const set = (column: string, value: unknown) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (patch.displayName !== undefined) set('display_name', patch.displayName);
    if (patch.phone !== undefined)
      set('phone_enc', patch.phone === null ? null : this.pii.encrypt(patch.phone, 'phone'));
    if (patch.preferences !== undefined) set('preferences', JSON.stringify(patch.preferences));
    if (sets.length > 0) {
      const r = await this.pool.query(
        `UPDATE users SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 AND status = 'active'`,
        values,
      );
      if (r.rowCount === 0) throw UserErrors.USER_NOT_FOUND();
    }
    return this.get(id);
  }

  async setRoles(id: string, roles: Role[]): Promise<Profile> {
    const r = await this.pool.query(
      "UPDATE users SET roles = $2, updated_at = now() WHERE id = $1 AND status = 'active'",
      [id, [...new Set(roles)]],
    );
    if (r.rowCount === 0) throw UserErrors.USER_NOT_FOUND();
    return this.get(id);
  }

  /**
   * GDPR erase: personal data removed for good; the id stays so ledgers and orders keep their
   * references. Pass `db` to erase inside a caller's transaction (auth removes credentials too).
   */
  async erase(id: string, db: Queryable = this.pool): Promise<void> {
    const r = await db.query(
      `UPDATE users SET email_index = NULL, email_enc = NULL, phone_enc = NULL, display_name = NULL,
         preferences = '{}'::jsonb, roles = ARRAY['buyer'], status = 'erased', erased_at = now(), updated_at = now()
       WHERE id = $1 AND status = 'active'`,
      [id],
    );
    if (r.rowCount === 0) throw UserErrors.USER_NOT_FOUND();
  }
}
