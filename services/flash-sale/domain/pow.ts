/**
 * Proof of work for hot sales: a challenge bound to (user, sale, time window) by an HMAC, so it needs
 * no storage; the answer is a nonce such that sha256(challenge + ":" + nonce) starts with `difficulty`
 * zero bits. Costs the client ~2^difficulty hashes, costs the edge one HMAC and one hash to check.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const CHALLENGE_TTL_MS = 120_000;

export interface Challenge {
  challenge: string;
  difficulty: number;
  expiresAt: number;
}

function sign(secret: string, userId: string, saleId: string, issuedAt: number): string {
  return createHmac('sha256', secret)
    .update(`${userId}|${saleId}|${issuedAt}`)
    .digest('base64url')
    .slice(0, 22);
}

export function issueChallenge(
  secret: string,
  userId: string,
  saleId: string,
  difficulty: number,
  now: number,
): Challenge {
  const issuedAt = now;
  return {
    challenge: `${issuedAt.toString(36)}.${sign(secret, userId, saleId, issuedAt)}`,
    difficulty,
    expiresAt: issuedAt + CHALLENGE_TTL_MS,
  };
}

export function leadingZeroBits(buf: Buffer): number {
  let bits = 0;
  for (const byte of buf) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** True when the challenge was issued to this user for this sale, is fresh, and the nonce solves it. */
export function verifyProof(
  secret: string,
  userId: string,
  saleId: string,
  difficulty: number,
  proof: { challenge: string; nonce: string },
  now: number,
): boolean {
  const [issued36, mac] = proof.challenge.split('.');
  const issuedAt = Number.parseInt(issued36 ?? '', 36);
  if (!mac || !Number.isFinite(issuedAt) || now - issuedAt > CHALLENGE_TTL_MS || issuedAt > now + 5_000)
    return false;
  const expected = Buffer.from(sign(secret, userId, saleId, issuedAt));
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
  const hash = createHash('sha256').update(`${proof.challenge}:${proof.nonce}`).digest();
  return leadingZeroBits(hash) >= difficulty;
}

/** What a client does: find a nonce (used by tests, benchmarks and the README example). */
export function solveChallenge(challenge: string, difficulty: number): string {
  for (let n = 0; ; n++) {
    const nonce = n.toString(36);
    if (leadingZeroBits(createHash('sha256').update(`${challenge}:${nonce}`).digest()) >= difficulty)
      return nonce;
  }
}
