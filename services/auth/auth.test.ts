import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { stepAt, totpAt } from './domain/totp.ts';
import { type Identity, startIdentity } from './test/identity-harness.ts';

let id: Identity;
before(async () => {
  id = await startIdentity();
});
after(() => id.stop());

const PASSWORD = 'correct horse battery';

async function registered() {
  const email = id.email();
  const r = await id.authCall('POST', '/v1/auth/register', { email, password: PASSWORD });
  assert.equal(r.status, 201);
  return { email, userId: r.body.userId as string };
}

async function loggedIn() {
  const u = await registered();
  const r = await id.authCall('POST', '/v1/auth/login', { email: u.email, password: PASSWORD });
  assert.equal(r.status, 200);
  return { ...u, ...(r.body as { accessToken: string; refreshToken: string; expiresIn: number }) };
}

async function userCount(): Promise<number> {
  return Number((await id.db.pool.query('SELECT count(*) FROM users')).rows[0].count);
}

describe('register', () => {
  test('creates an account and returns its id', async () => {
    const { userId } = await registered();
    assert.match(userId, /^[0-9a-f-]{36}$/);
  });

  test('bad input is a 400 with a code and creates nothing', async () => {
    const before = await userCount();
    const cases: [unknown, string][] = [
      [{ email: 'not-an-email', password: PASSWORD }, 'INVALID_EMAIL'],
      [{ email: id.email(), password: 'short' }, 'WEAK_PASSWORD'],
      [{ email: id.email(), password: 'aaaaaaaaaaaaaaa' }, 'WEAK_PASSWORD'],
      [{ email: id.email(), password: 'password123' }, 'WEAK_PASSWORD'],
      [{ email: id.email() }, 'VALIDATION_FAILED'],
      [{ email: id.email(), password: PASSWORD, role: 'admin' }, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of cases) {
      const r = await id.authCall('POST', '/v1/auth/register', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.code, code);
      assert.equal(typeof r.body.message, 'string');
    }
    assert.equal(await userCount(), before);
  });

  test('the same email twice (any case) is a 409', async () => {
    const { email } = await registered();
    const r = await id.authCall('POST', '/v1/auth/register', {
      email: email.toUpperCase(),
      password: PASSWORD,
    });
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'EMAIL_TAKEN');
  });
});

describe('login', () => {
  test('returns an EdDSA access token with a kid, and a refresh token', async () => {
    const s = await loggedIn();
    const header = JSON.parse(Buffer.from(s.accessToken.split('.')[0]!, 'base64url').toString());
    assert.equal(header.alg, 'EdDSA');
    assert.ok(header.kid);
    assert.equal(s.expiresIn, 900);
    assert.ok(s.refreshToken.length >= 40);
  });

  test('wrong password and unknown account give the same 401, at a similar cost', async () => {
    const { email } = await registered();
    const time = async (body: unknown) => {
      const t = performance.now();
      const r = await id.authCall('POST', '/v1/auth/login', body);
      return { ms: performance.now() - t, r };
    };
    const wrong = await time({ email, password: 'wrong password here' });
    const unknown = await time({ email: id.email(), password: 'wrong password here' });
    assert.equal(wrong.r.status, 401);
    assert.deepEqual(unknown.r.body, wrong.r.body);
    assert.equal(wrong.r.body.code, 'INVALID_CREDENTIALS');
    // Both pay for a full scrypt; a missing account must not answer an order of magnitude faster.
    const known = [wrong.ms];
    const missing = [unknown.ms];
    for (let i = 0; i < 4; i++) {
      known.push((await time({ email, password: `wrong password ${i}` })).ms);
      missing.push((await time({ email: id.email(), password: 'wrong password here' })).ms);
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[2]!;
    assert.ok(
      median(missing) > median(known) / 4,
      `unknown ${median(missing)} ms vs known ${median(known)} ms`,
    );
  });

  test('five failures lock the account (429 with Retry-After), even for the right password', async () => {
    const { email } = await registered();
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await id.authCall('POST', '/v1/auth/login', { email, password: `nope nope ${i}` })).status,
        401,
      );
    }
    const locked = await id.authCall('POST', '/v1/auth/login', { email, password: PASSWORD });
    assert.equal(locked.status, 429);
    assert.equal(locked.body.code, 'LOGIN_LOCKED');
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
  });

  test('an unknown account locks the same way, so a lockout reveals nothing', async () => {
    const email = id.email();
    for (let i = 0; i < 5; i++)
      await id.authCall('POST', '/v1/auth/login', { email, password: `nope nope ${i}` });
    const r = await id.authCall('POST', '/v1/auth/login', { email, password: PASSWORD });
    assert.equal(r.status, 429);
    assert.equal(r.body.code, 'LOGIN_LOCKED');
  });

  test('a password hashed with an older, cheaper cost is upgraded at login', async () => {
    const { email, userId } = await registered();
    const { hashPassword } = await import('./domain/password.ts');
    await id.auth.auth.store.setPassword(userId, await hashPassword(PASSWORD, { logN: 10, r: 8, p: 1 }));
    assert.equal((await id.authCall('POST', '/v1/auth/login', { email, password: PASSWORD })).status, 200);
    const stored = await id.auth.auth.store.passwordHash(userId);
    assert.match(stored ?? '', /^scrypt\$12\$8\$1\$/);
  });
});

describe('access tokens', () => {
  test('GET /v1/users/me with a valid token returns the profile; without one, 401', async () => {
    const s = await loggedIn();
    const me = await id.userCall('GET', '/v1/users/me', undefined, s.accessToken);
    assert.equal(me.status, 200);
    assert.equal(me.body.id, s.userId);
    assert.equal(me.body.email, s.email);
    assert.deepEqual(me.body.roles, ['buyer']);
    const none = await id.userCall('GET', '/v1/users/me');
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'UNAUTHENTICATED');
  });

  test('tampered tokens are rejected: alg none, foreign key, HS256 with the public key, edited claims, expired, wrong audience or issuer', async () => {
    const s = await loggedIn();
    const [h, p] = s.accessToken.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const active = await id.auth.keys.active();
    const jwk = (await id.auth.keys.jwks()).keys.find((k) => k.kid === header.kid)!;
    const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const nowSec = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, key = active.privateKey, kid = header.kid) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid }).sign(key);
    const base = {
      sub: s.userId,
      roles: ['admin'],
      iss: payload.iss,
      aud: payload.aud,
      iat: nowSec,
      exp: nowSec + 600,
    };
    const { createHmac } = await import('node:crypto');
    const hsInput = `${b64({ alg: 'HS256', kid: header.kid })}.${b64(base)}`;
    const hs256 = `${hsInput}.${createHmac('sha256', JSON.stringify(jwk)).update(hsInput).digest('base64url')}`;
    const forged: [string, string][] = [
      ['alg none', `${b64({ alg: 'none', kid: header.kid })}.${b64(base)}.`],
      ['foreign key', await sign(base, foreign.privateKey)],
      ['HS256 confusion', hs256],
      ['edited claims', `${h}.${b64({ ...payload, roles: ['admin'] })}.${s.accessToken.split('.')[2]}`],
      ['wrong audience', await sign({ ...base, aud: 'someone-else' })],
      ['wrong issuer', await sign({ ...base, iss: 'evil' })],
      ['unknown kid', await sign(base, active.privateKey, 'no-such-kid')],
    ];
    for (const [what, token] of forged) {
      const r = await id.userCall('GET', '/v1/users/me', undefined, token);
      assert.equal(r.status, 401, what);
      assert.equal(r.body.code, 'UNAUTHENTICATED', what);
    }
    const expired = await id.userCall(
      'GET',
      '/v1/users/me',
      undefined,
      await sign({ ...base, iat: nowSec - 2000, exp: nowSec - 1000 }),
    );
    assert.equal(expired.status, 401);
    assert.equal(expired.body.code, 'TOKEN_EXPIRED');
    // Control: the same signer with honest claims passes, so the rejections above are about the tampering.
    assert.equal((await id.userCall('GET', '/v1/users/me', undefined, await sign(base))).status, 200);
  });

  test('a rotated key is published before it signs; old tokens still verify; then new tokens carry the new kid', async () => {
    const admin = await loggedIn();
    await id.db.pool.query("UPDATE users SET roles = ARRAY['buyer','admin'] WHERE id = $1", [admin.userId]);
    const adminToken = (
      await id.authCall('POST', '/v1/auth/login', { email: admin.email, password: PASSWORD })
    ).body.accessToken;
    const old = await loggedIn();
    const rotated = await id.authCall('POST', '/v1/auth/keys/rotate', {}, adminToken);
    assert.equal(rotated.status, 200);
    assert.equal((await id.userCall('GET', '/v1/users/me', undefined, old.accessToken)).status, 200);
    const published = (await id.authCall('GET', '/v1/auth/jwks')).body.keys as { kid: string }[];
    assert.ok(
      published.some((k) => k.kid === rotated.body.kid),
      'the new key is in the JWKS before it signs',
    );
    const early = await id.authCall('POST', '/v1/auth/login', { email: old.email, password: PASSWORD });
    const earlyKid = JSON.parse(
      Buffer.from(early.body.accessToken.split('.')[0], 'base64url').toString(),
    ).kid;
    assert.notEqual(earlyKid, rotated.body.kid, 'still signing with the old key during propagation');
    await new Promise((r) => setTimeout(r, 500)); // the harness's propagation delay is 400 ms
    const fresh = await id.authCall('POST', '/v1/auth/login', { email: old.email, password: PASSWORD });
    const kid = JSON.parse(Buffer.from(fresh.body.accessToken.split('.')[0], 'base64url').toString()).kid;
    assert.equal(kid, rotated.body.kid);
    assert.equal((await id.userCall('GET', '/v1/users/me', undefined, fresh.body.accessToken)).status, 200);
    const jwks = (await id.authCall('GET', '/v1/auth/jwks')).body.keys as {
      kid: string;
      kty: string;
      d?: string;
    }[];
    assert.ok(jwks.length >= 2);
    assert.ok(
      jwks.every((k) => k.kty === 'OKP' && k.d === undefined),
      'no private key material in the JWKS',
    );
    // A non-admin cannot rotate.
    assert.equal((await id.authCall('POST', '/v1/auth/keys/rotate', {}, old.accessToken)).status, 403);
  });
});

describe('refresh tokens', () => {
  test('rotate on every use; reusing a spent one revokes the whole family', async () => {
    const s = await loggedIn();
    const first = await id.authCall('POST', '/v1/auth/refresh', { refreshToken: s.refreshToken });
    assert.equal(first.status, 200);
    assert.notEqual(first.body.refreshToken, s.refreshToken);
    const reuse = await id.authCall('POST', '/v1/auth/refresh', { refreshToken: s.refreshToken });
    assert.equal(reuse.status, 401);
    assert.equal(reuse.body.code, 'REFRESH_TOKEN_REUSED');
    const descendant = await id.authCall('POST', '/v1/auth/refresh', {
      refreshToken: first.body.refreshToken,
    });
    assert.equal(descendant.status, 401, 'the stolen family is revoked');
  });

  test('two concurrent refreshes with one token: one wins, and the family is revoked', async () => {
    const s = await loggedIn();
    const results = await Promise.all([
      id.authCall('POST', '/v1/auth/refresh', { refreshToken: s.refreshToken }),
      id.authCall('POST', '/v1/auth/refresh', { refreshToken: s.refreshToken }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 401]);
    const winner = results.find((r) => r.status === 200)!;
    assert.equal(
      (await id.authCall('POST', '/v1/auth/refresh', { refreshToken: winner.body.refreshToken })).status,
      401,
    );
  });

  test('logout ends the session; revoke-all ends every session', async () => {
    const s = await loggedIn();
    assert.equal(
      (await id.authCall('POST', '/v1/auth/logout', { refreshToken: s.refreshToken })).status,
      204,
    );
    assert.equal(
      (await id.authCall('POST', '/v1/auth/refresh', { refreshToken: s.refreshToken })).status,
      401,
    );

    const second = await id.authCall('POST', '/v1/auth/login', { email: s.email, password: PASSWORD });
    const third = await id.authCall('POST', '/v1/auth/login', { email: s.email, password: PASSWORD });
    const all = await id.authCall('POST', '/v1/auth/revoke-all', {}, second.body.accessToken);
    assert.equal(all.status, 200);
    assert.ok(all.body.revoked >= 2);
    for (const t of [second, third]) {
      assert.equal(
        (await id.authCall('POST', '/v1/auth/refresh', { refreshToken: t.body.refreshToken })).status,
        401,
      );
    }
  });

  test('garbage refresh tokens are a 401 or 400, never a 500', async () => {
    assert.equal(
      (await id.authCall('POST', '/v1/auth/refresh', { refreshToken: 'x'.repeat(43) })).status,
      401,
    );
    assert.equal((await id.authCall('POST', '/v1/auth/refresh', { refreshToken: 42 })).status, 400);
  });
});

describe('TOTP MFA', () => {
  test('enroll, confirm, then login needs the code; codes do not replay; recovery codes work once', async () => {
    const s = await loggedIn();
    const enroll = await id.authCall('POST', '/v1/auth/mfa/enroll', {}, s.accessToken);
    assert.equal(enroll.status, 200);
    const secret = enroll.body.secret as string;
    assert.match(enroll.body.otpauthUri, /^otpauth:\/\/totp\/.+secret=[A-Z2-7]+/);
    const wrong = await id.authCall(
      'POST',
      '/v1/auth/mfa/confirm',
      { totp: '000000' === totpAt(secret, stepAt(Date.now())) ? '111111' : '000000' },
      s.accessToken,
    );
    assert.equal(wrong.status, 400);
    const confirm = await id.authCall(
      'POST',
      '/v1/auth/mfa/confirm',
      { totp: totpAt(secret, stepAt(Date.now())) },
      s.accessToken,
    );
    assert.equal(confirm.status, 200);
    const codes = confirm.body.recoveryCodes as string[];
    assert.equal(codes.length, 10);

    const noCode = await id.authCall('POST', '/v1/auth/login', { email: s.email, password: PASSWORD });
    assert.equal(noCode.status, 401);
    assert.equal(noCode.body.code, 'MFA_REQUIRED');
    const wrongPasswordNoCode = await id.authCall('POST', '/v1/auth/login', {
      email: s.email,
      password: 'wrong password x',
    });
    assert.equal(
      wrongPasswordNoCode.body.code,
      'INVALID_CREDENTIALS',
      'MFA_REQUIRED only after a correct password',
    );

    // The confirm code's step is spent: use the next step's code (accepted within the ±1 step window).
    const next = totpAt(secret, stepAt(Date.now()) + 1);
    const ok = await id.authCall('POST', '/v1/auth/login', {
      email: s.email,
      password: PASSWORD,
      totp: next,
    });
    assert.equal(ok.status, 200);
    const replay = await id.authCall('POST', '/v1/auth/login', {
      email: s.email,
      password: PASSWORD,
      totp: next,
    });
    assert.equal(replay.status, 401);
    assert.equal(replay.body.code, 'INVALID_MFA_CODE');

    const recovery = await id.authCall('POST', '/v1/auth/login', {
      email: s.email,
      password: PASSWORD,
      totp: codes[0],
    });
    assert.equal(recovery.status, 200);
    const again = await id.authCall('POST', '/v1/auth/login', {
      email: s.email,
      password: PASSWORD,
      totp: codes[0],
    });
    assert.equal(again.body.code, 'INVALID_MFA_CODE');
    const stored = await id.db.pool.query('SELECT code_hash FROM auth_recovery_codes WHERE user_id = $1', [
      s.userId,
    ]);
    assert.ok(
      stored.rows.every((r) => !codes.some((c) => r.code_hash.toString().includes(c))),
      'recovery codes stored hashed',
    );
    assert.equal(
      (await id.authCall('POST', '/v1/auth/mfa/enroll', {}, s.accessToken)).body.code,
      'MFA_ALREADY_ENABLED',
    );
  });

  test('TOTP matches the RFC 6238 test vector', () => {
    // Secret "12345678901234567890" (base32 GEZDGNBVGY3TQOJQ...), T = 59 s -> 94287082, last 6 digits.
    assert.equal(totpAt('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1), '287082');
  });
});
