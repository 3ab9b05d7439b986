import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Identity, startIdentity } from '../auth/test/identity-harness.ts';
import { PiiCipher, parseKeyring } from './domain/pii.ts';

let id: Identity;
before(async () => {
  id = await startIdentity();
});
after(() => id.stop());

const PASSWORD = 'correct horse battery';
async function session() {
  const email = id.email();
  const reg = await id.authCall('POST', '/v1/auth/register', { email, password: PASSWORD });
  const login = await id.authCall('POST', '/v1/auth/login', { email, password: PASSWORD });
  return {
    email,
    userId: reg.body.userId as string,
    token: login.body.accessToken as string,
    refresh: login.body.refreshToken as string,
  };
}

describe('profile', () => {
  test('update display name, phone and preferences; bad values are a 400 and change nothing', async () => {
    const s = await session();
    const ok = await id.userCall(
      'PATCH',
      '/v1/users/me',
      { displayName: 'Ada', phone: '+447700900123', preferences: { lang: 'en' } },
      s.token,
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.body.displayName, 'Ada');
    assert.equal(ok.body.phone, '+447700900123');
    for (const bad of [
      { phone: '12345' },
      { displayName: '' },
      { roles: ['admin'] },
      { preferences: { x: { nested: true } } },
    ]) {
      const r = await id.userCall('PATCH', '/v1/users/me', bad, s.token);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal(r.body.code, 'VALIDATION_FAILED');
    }
    const me = await id.userCall('GET', '/v1/users/me', undefined, s.token);
    assert.deepEqual(
      [me.body.displayName, me.body.phone, me.body.roles],
      ['Ada', '+447700900123', ['buyer']],
    );
  });

  test('personal data is not stored in plaintext; email lookups go through the blind index', async () => {
    const s = await session();
    await id.userCall('PATCH', '/v1/users/me', { phone: '+15551234567' }, s.token);
    const row = (await id.db.pool.query('SELECT * FROM users WHERE id = $1', [s.userId])).rows[0];
    const raw = JSON.stringify(row);
    assert.ok(!raw.includes(s.email), 'email appears in plaintext');
    assert.ok(!raw.includes('5551234567'), 'phone appears in plaintext');
    assert.match(row.email_enc, /^k1\./, 'ciphertext names its key id');
    assert.equal((await id.auth.users.findIdByEmail(s.email.toUpperCase()))?.id, s.userId);
  });

  test('erase removes personal data and credentials; the id stays, the account stops working', async () => {
    const s = await session();
    await id.userCall('PATCH', '/v1/users/me', { displayName: 'Grace', phone: '+15557654321' }, s.token);
    assert.equal((await id.userCall('DELETE', '/v1/users/me', undefined, s.token)).status, 204);
    const row = (await id.db.pool.query('SELECT * FROM users WHERE id = $1', [s.userId])).rows[0];
    assert.equal(row.status, 'erased');
    assert.deepEqual(
      [row.email_enc, row.email_index, row.phone_enc, row.display_name],
      [null, null, null, null],
    );
    assert.equal(
      (await id.db.pool.query('SELECT count(*) FROM auth_credentials WHERE user_id = $1', [s.userId])).rows[0]
        .count,
      '0',
    );
    assert.equal(
      (await id.authCall('POST', '/v1/auth/login', { email: s.email, password: PASSWORD })).status,
      401,
    );
    assert.equal((await id.authCall('POST', '/v1/auth/refresh', { refreshToken: s.refresh })).status, 401);
    // The email can be registered again as a new person.
    assert.equal(
      (await id.authCall('POST', '/v1/auth/register', { email: s.email, password: PASSWORD })).status,
      201,
    );
  });
});

describe('roles', () => {
  test('only an admin changes roles; unknown roles are a 400', async () => {
    const buyer = await session();
    const target = await session();
    const denied = await id.userCall(
      'PUT',
      `/v1/users/${target.userId}/roles`,
      { roles: ['seller'] },
      buyer.token,
    );
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 'FORBIDDEN');

    const admin = await session();
    await id.db.pool.query("UPDATE users SET roles = ARRAY['admin'] WHERE id = $1", [admin.userId]);
    const adminToken = (
      await id.authCall('POST', '/v1/auth/login', { email: admin.email, password: PASSWORD })
    ).body.accessToken;
    const ok = await id.userCall(
      'PUT',
      `/v1/users/${target.userId}/roles`,
      { roles: ['buyer', 'seller'] },
      adminToken,
    );
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.roles, ['buyer', 'seller']);
    const bad = await id.userCall(
      'PUT',
      `/v1/users/${target.userId}/roles`,
      { roles: ['emperor'] },
      adminToken,
    );
    assert.equal(bad.status, 400);
    const me = await id.userCall('GET', '/v1/users/me', undefined, target.token);
    assert.deepEqual(me.body.roles, ['buyer', 'seller']);
  });
});

describe('personal-data keys', () => {
  test('rotation: data written with an old key still decrypts; new writes use the active key; tampering fails', () => {
    const k1 = randomBytes(32).toString('base64');
    const k2 = randomBytes(32).toString('base64');
    const index = randomBytes(32).toString('base64');
    const before = new PiiCipher(parseKeyring(`k1:${k1}`, 'k1', index));
    const old = before.encrypt('ada@example.com', 'email');
    const after = new PiiCipher(parseKeyring(`k1:${k1},k2:${k2}`, 'k2', index));
    assert.equal(after.decrypt(old, 'email'), 'ada@example.com');
    assert.ok(after.isStale(old));
    assert.match(after.encrypt('x', 'email'), /^k2\./);
    assert.equal(after.blindIndex('ada@example.com', 'email'), before.blindIndex('ada@example.com', 'email'));
    assert.throws(() => after.decrypt(old, 'phone'), 'a ciphertext moved to another field does not decrypt');
    const parts = old.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    assert.throws(() => after.decrypt(parts.join('.'), 'email'));
  });

  test('misconfigured keys fail at start, naming the setting', () => {
    assert.throws(() => parseKeyring('k1:short', 'k1', randomBytes(32).toString('base64')), /TITAN_PII_KEYS/);
    assert.throws(
      () =>
        parseKeyring(`k1:${randomBytes(32).toString('base64')}`, 'k9', randomBytes(32).toString('base64')),
      /TITAN_PII_ACTIVE_KEY/,
    );
  });
});
