/**
 * Ed25519 signing keys for access tokens, with rotation that never breaks a verifier:
 * - a new key is published in the JWKS at once but signs only after a propagation delay (longer
 *   than verifiers' JWKS refresh cooldown), so no token carries a kid its verifiers cannot fetch;
 * - a superseded key stays published for the access-token lifetime plus the reload interval, so
 *   every token it signed still verifies until it expires.
 * Private keys are stored encrypted with the personal-data keyring.
 */
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Pool } from '../kit/index.ts';
import type { PiiCipher } from '../user/index.ts';
import { AuthErrors } from './errors.ts';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface SigningKey {
  kid: string;
  privateKey: PrivateKey;
}

interface KeyRow {
  kid: string;
  private_enc: string;
  public_jwk: JWK;
  activates_at: Date;
  superseded_at: Date | null;
}

export interface SigningKeyTimings {
  /** How long a new key is published before it signs (default 60 s). */
  propagationMs: number;
  /** How long a superseded key stays published: access-token TTL plus the reload interval. */
  overlapMs: number;
  /** How often the key list is re-read (other processes may rotate). */
  reloadMs: number;
}

export class SigningKeys {
  #rows: KeyRow[] = [];
  readonly #privateKeys = new Map<string, Promise<PrivateKey>>();
  #loadedAt = 0;

  constructor(
    private readonly pool: Pool,
    private readonly cipher: PiiCipher,
    private readonly timings: SigningKeyTimings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates the first key when none exists, active at once. */
  async ensureKey(): Promise<void> {
    const r = await this.pool.query('SELECT 1 FROM auth_signing_keys LIMIT 1');
    if (r.rowCount === 0) await this.#insert(0);
    await this.reload();
  }

  /** Publishes a new key that starts signing after the propagation delay. Returns its kid. */
  rotate(): Promise<string> {
    return this.#insert(this.timings.propagationMs);
  }

  async #insert(delayMs: number): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const kid = `${new Date(this.now()).toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
    const privateEnc = this.cipher.encrypt(JSON.stringify(await exportJWK(privateKey)), 'signing-key');
    await this.pool.query(
      'INSERT INTO auth_signing_keys (kid, private_enc, public_jwk, activates_at) VALUES ($1, $2, $3, $4)',
      [kid, privateEnc, publicJwk, new Date(this.now() + delayMs)],
    );
    await this.reload();
    return kid;
  }

  async reload(): Promise<void> {
    const r = await this.pool.query<KeyRow>(
      `SELECT kid, private_enc, public_jwk, activates_at,
              lead(activates_at) OVER (ORDER BY activates_at, kid) AS superseded_at
       FROM auth_signing_keys ORDER BY activates_at, kid`,
    );
    this.#rows = r.rows;
    this.#loadedAt = this.now();
  }

  async #fresh(): Promise<void> {
    if (this.now() - this.#loadedAt > this.timings.reloadMs) await this.reload();
  }

  /** The key that signs now: the newest one whose activation time has come. */
  async active(): Promise<SigningKey> {
    await this.#fresh();
    const now = this.now();
    const row = this.#rows.findLast((k) => k.activates_at.getTime() <= now);
    if (!row) throw AuthErrors.SIGNING_KEY_UNAVAILABLE();
    let key = this.#privateKeys.get(row.kid);
    if (!key) {
      const jwk = JSON.parse(this.cipher.decrypt(row.private_enc, 'signing-key')) as JWK;
      key = importJWK(jwk, 'EdDSA') as Promise<PrivateKey>;
      this.#privateKeys.set(row.kid, key);
    }
    return { kid: row.kid, privateKey: await key };
  }

  /** Pending, active, and recently superseded public keys. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.#fresh();
    const horizon = this.now() - this.timings.overlapMs;
    return {
      keys: this.#rows
        .filter((k) => k.superseded_at === null || k.superseded_at.getTime() > horizon)
        .map((k) => k.public_jwk),
    };
  }
}
