/**
 * Buyers for the benchmarks, made the way the platform makes them: registered and logged in through the
 * real auth service (its HTTP API), so every token is a real EdDSA access token the edge and the peer
 * verify against the auth service's JWKS. Registration runs in parallel, with the bench stack's low scrypt
 * cost (TITAN_SCRYPT_LOG_N, bench only). Users and their tokens are cached in the data dir, so a second
 * run only logs in again when its tokens are close to expiring.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';

export interface BenchUser {
  email: string;
  userId: string;
  token: string;
  /** Token expiry, ms. */
  exp: number;
}

const PASSWORD = 'bench-password-0123';

interface AuthReply {
  userId?: string;
  accessToken?: string;
}

async function post(url: string, body: unknown): Promise<{ status: number; body: AuthReply }> {
  const r = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await r.body.text();
  return { status: r.statusCode, body: text ? (JSON.parse(text) as AuthReply) : {} };
}

function tokenExp(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
  return Number(payload.exp) * 1000;
}

async function login(authUrl: string, email: string): Promise<{ token: string; exp: number }> {
  const r = await post(`${authUrl}/v1/auth/login`, { email, password: PASSWORD });
  if (r.status !== 200) throw new Error(`login of ${email} failed: ${r.status} ${JSON.stringify(r.body)}`);
  const token = r.body.accessToken!;
  return { token, exp: tokenExp(token) };
}

async function parallel<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

/** `count` users with tokens valid for at least `minValidMs` more. */
export async function benchUsers(options: {
  authUrl: string;
  dataDir: string;
  count: number;
  minValidMs: number;
  log: (msg: string) => void;
}): Promise<BenchUser[]> {
  const file = join(options.dataDir, 'users.json');
  const cached: BenchUser[] = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
  const t0 = performance.now();
  const fresh = Date.now() + options.minValidMs;
  let relogged = 0;
  const kept = await parallel(Math.min(cached.length, options.count), 8, async (i) => {
    const u = cached[i]!;
    if (u.exp > fresh) return u;
    relogged++;
    return { ...u, ...(await login(options.authUrl, u.email)) };
  });
  const tag = Date.now().toString(36);
  const created = await parallel(options.count - kept.length, 8, async (i) => {
    const email = `bench-${tag}-${i}@bench.titan.local`;
    const reg = await post(`${options.authUrl}/v1/auth/register`, { email, password: PASSWORD });
    if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${JSON.stringify(reg.body)}`);
    return { email, userId: reg.body.userId as string, ...(await login(options.authUrl, email)) };
  });
  const users = [...kept, ...created];
  writeFileSync(file, JSON.stringify([...users, ...cached.slice(users.length)]));
  options.log(
    `users: ${users.length} (${created.length} registered, ${relogged} logged in again, ` +
      `${users.length - created.length - relogged} cached) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return users;
}
