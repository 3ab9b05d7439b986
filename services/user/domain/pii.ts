/**
 * Personal data at rest: AES-256-GCM with a key id in every ciphertext (so keys rotate: new writes
 * use the active key, old rows still decrypt), and a keyed hash (blind index) for exact lookups
 * without ever storing or querying plaintext. The field name is bound as associated data, so a
 * ciphertext copied into another column does not decrypt.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { UserErrors } from '../errors.ts';

export interface PiiKeyring {
  /** key id -> 32-byte key */
  keys: ReadonlyMap<string, Buffer>;
  activeKeyId: string;
  blindIndexKey: Buffer;
}

/** Parses `kid:base64,kid2:base64` (32-byte keys) as found in TITAN_PII_KEYS. */
export function parseKeyring(keys: string, activeKeyId: string, blindIndexKey: string): PiiKeyring {
  const map = new Map<string, Buffer>();
  for (const part of keys
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [kid, b64] = part.split(':');
    const key = Buffer.from(b64 ?? '', 'base64');
    if (!kid || !/^[\w-]{1,32}$/.test(kid) || key.length !== 32) {
      throw UserErrors.PII_CONFIG_INVALID(
        `TITAN_PII_KEYS: each entry must be <id>:<base64 of 32 bytes> (bad: ${kid ?? part})`,
      );
    }
    map.set(kid, key);
  }
  if (!map.has(activeKeyId)) {
    throw UserErrors.PII_CONFIG_INVALID(`TITAN_PII_ACTIVE_KEY "${activeKeyId}" is not among TITAN_PII_KEYS`);
  }
  const index = Buffer.from(blindIndexKey, 'base64');
  if (index.length < 32)
    throw UserErrors.PII_CONFIG_INVALID('TITAN_BLIND_INDEX_KEY must be base64 of at least 32 bytes');
  return { keys: map, activeKeyId, blindIndexKey: index };
}

export class PiiCipher {
  constructor(private readonly keyring: PiiKeyring) {}

  /** `kid.iv.tag.ciphertext`, each part base64url. */
  encrypt(plaintext: string, field: string): string {
    const { activeKeyId } = this.keyring;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keyring.keys.get(activeKeyId)!, iv);
    cipher.setAAD(Buffer.from(field));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      activeKeyId,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      ct.toString('base64url'),
    ].join('.');
  }

  decrypt(token: string, field: string): string {
    const [kid, iv, tag, ct] = token.split('.');
    const key = kid ? this.keyring.keys.get(kid) : undefined;
    if (!key || iv === undefined || tag === undefined || ct === undefined) {
      throw UserErrors.PII_KEY_UNKNOWN(`no key "${kid}" for field ${field}`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(field));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Deterministic keyed hash of a normalized value, for equality lookups. */
  blindIndex(value: string, field: string): string {
    return createHmac('sha256', this.keyring.blindIndexKey)
      .update(field)
      .update('\0')
      .update(value)
      .digest('base64url');
  }

  /** True when the ciphertext was written with a key other than the active one (re-encrypt it). */
  isStale(token: string): boolean {
    return !token.startsWith(`${this.keyring.activeKeyId}.`);
  }
}
