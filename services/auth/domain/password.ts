/**
 * Password hashing with scrypt (memory-hard, from node:crypto). Each hash carries its parameters
 * (`scrypt$logN$r$p$salt$hash`), so the cost can be raised later: a hash made with weaker
 * parameters still verifies and reports that it needs a rehash.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { AuthErrors } from '../errors.ts';

export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { logN: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, { logN, r, p }: ScryptParams): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize('NFKC'),
      salt,
      KEY_LENGTH,
      { N, r, p, maxmem: 256 * N * r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return `scrypt$${params.logN}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export interface VerifyResult {
  ok: boolean;
  needsRehash: boolean;
}

export async function verifyPassword(
  password: string,
  stored: string,
  current: ScryptParams,
): Promise<VerifyResult> {
  const [scheme, logN, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return { ok: false, needsRehash: false };
  const params = { logN: Number(logN), r: Number(r), p: Number(p) };
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), params);
  const ok = key.length === expected.length && timingSafeEqual(key, expected);
  const weaker = params.logN < current.logN || params.r < current.r || params.p < current.p;
  return { ok, needsRehash: ok && weaker };
}

/** A fixed hash to verify against when the account does not exist, so timing does not tell. */
let dummy: Promise<string> | undefined;
export function dummyHash(params: ScryptParams): Promise<string> {
  dummy ??= hashPassword(randomBytes(12).toString('base64'), params);
  return dummy;
}

const COMMON = new Set([
  'password',
  'password1',
  'password123',
  '123456789',
  '1234567890',
  'qwertyuiop',
  'iloveyou',
  'admin12345',
  'letmein123',
  'welcome123',
  'qwerty1234',
  '1q2w3e4r5t',
  'passw0rd!',
  'abc1234567',
  'football12',
  'monkey1234',
]);

/** Minimum rules: 10 to 256 characters, not one repeated character, not a common password, not the email. */
export function assertPasswordStrength(password: string, email?: string): void {
  if (password.length < 10) throw AuthErrors.WEAK_PASSWORD('Password must be at least 10 characters');
  if (password.length > 256) throw AuthErrors.WEAK_PASSWORD('Password must be at most 256 characters');
  if (new Set(password).size < 4)
    throw AuthErrors.WEAK_PASSWORD('Password must use at least 4 different characters');
  if (COMMON.has(password.toLowerCase())) throw AuthErrors.WEAK_PASSWORD('Password is too common');
  const local = email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && password.toLowerCase().includes(local)) {
    throw AuthErrors.WEAK_PASSWORD('Password must not contain the email address');
  }
}
