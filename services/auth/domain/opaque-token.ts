/** Opaque secrets (refresh tokens, recovery codes): random, stored only as SHA-256 hashes. */
import { createHash, randomBytes } from 'node:crypto';

export const newRefreshToken = (): string => randomBytes(32).toString('base64url');

export const hashSecret = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/** Ten recovery codes like `k3f9-x2m7-qp`; ~50 bits each, shown once. */
export function newRecoveryCodes(count = 10): string[] {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(10);
    const chars = [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
    return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 10)}`;
  });
}

export const normalizeRecoveryCode = (code: string): string => code.trim().toLowerCase();
