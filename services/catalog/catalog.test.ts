import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAccessTokenVerifier } from '../auth/index.ts';
import { type Identity, startIdentity } from '../auth/test/identity-harness.ts';
import { createLogger, createMetrics, Health, migrate } from '../kit/index.ts';
import { uniqueId } from '../kit/testing.ts';
import { CATALOG_MIGRATIONS, createCatalogApp } from './index.ts';

let id: Identity;
let app: ReturnType<typeof createCatalogApp>;
let base: string;

before(async () => {
  id = await startIdentity();
  await migrate(id.db.pool, 'catalog', CATALOG_MIGRATIONS);
  const verify = createAccessTokenVerifier({
    jwks: new URL(`${id.authUrl}/v1/auth/jwks`),
    issuer: id.config.TITAN_AUTH_ISSUER,
    audience: id.config.TITAN_AUTH_AUDIENCE,
    cooldownMs: 100,
  });
  app = createCatalogApp({
    pool: id.db.pool,
    verify,
    log: createLogger({ name: 'catalog-test', level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    health: new Health(),
  });
  base = `http://127.0.0.1:${await app.server.listen(0, '127.0.0.1')}`;
});
after(async () => {
  await app.server.close();
  await id.stop();
});

async function call(method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

/** A logged-in user holding exactly `roles`. */
async function tokenFor(...roles: string[]): Promise<string> {
  const email = id.email();
  const password = 'correct horse battery';
  const reg = await id.authCall('POST', '/v1/auth/register', { email, password });
  await id.db.pool.query('UPDATE users SET roles = $2 WHERE id = $1', [reg.body.userId, roles]);
  return (await id.authCall('POST', '/v1/auth/login', { email, password })).body.accessToken;
}

const sku = () => uniqueId('SKU-').toUpperCase();
const product = (overrides: Record<string, unknown> = {}) => ({
  title: 'Titan Test Kettle',
  description: 'Boils water',
  brand: 'Titan',
  category: 'home',
  priceMinor: 1999,
  currency: 'EUR',
  attributes: { color: 'red', sizes: [1, 2] },
  ...overrides,
});
const rows = async (...skus: string[]) =>
  Number(
    (await id.db.pool.query('SELECT count(*) FROM catalog_products WHERE sku = ANY($1)', [skus])).rows[0]
      .count,
  );

describe('writing products', () => {
  test('an operator creates, replaces, reads and withdraws a product; replays change nothing', async () => {
    const operator = await tokenFor('operator');
    const s = sku();
    const created = await call('PUT', `/v1/catalog/products/${s}`, product(), operator);
    assert.equal(created.status, 201);
    assert.equal(created.body.sku, s);
    assert.equal(created.body.priceMinor, 1999);
    assert.equal(created.body.active, true);
    assert.deepEqual(created.body.attributes, { color: 'red', sizes: [1, 2] });

    const replaced = await call('PUT', `/v1/catalog/products/${s}`, product({ priceMinor: 1499 }), operator);
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.priceMinor, 1499);
    assert.equal(replaced.body.createdAt, created.body.createdAt);
    const stamps = (
      await id.db.pool.query('SELECT updated_at > created_at AS moved FROM catalog_products WHERE sku = $1', [
        s,
      ])
    ).rows[0];
    assert.equal(stamps.moved, true, 'a change moves updatedAt');

    const replay = await call('PUT', `/v1/catalog/products/${s}`, product({ priceMinor: 1499 }), operator);
    assert.equal(replay.status, 200);
    assert.deepEqual(replay.body, replaced.body, 'a replayed PUT leaves the product exactly as it was');

    const got = await call('GET', `/v1/catalog/products/${s}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, replaced.body);

    assert.equal((await call('DELETE', `/v1/catalog/products/${s}`, undefined, operator)).status, 204);
    assert.equal((await call('DELETE', `/v1/catalog/products/${s}`, undefined, operator)).status, 204);
    const gone = await call('GET', `/v1/catalog/products/${s}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'PRODUCT_NOT_FOUND');
    const row = (await id.db.pool.query('SELECT active FROM catalog_products WHERE sku = $1', [s])).rows[0];
    assert.equal(row.active, false, 'soft delete keeps the row');

    const back = await call('PUT', `/v1/catalog/products/${s}`, product({ priceMinor: 1499 }), operator);
    assert.equal(back.status, 200);
    assert.equal(back.body.active, true, 'a PUT brings a withdrawn product back');
  });

  test('unknown products are a 404 PRODUCT_NOT_FOUND on read and delete', async () => {
    const operator = await tokenFor('operator');
    const s = sku();
    for (const r of [
      await call('GET', `/v1/catalog/products/${s}`),
      await call('DELETE', `/v1/catalog/products/${s}`, undefined, operator),
    ]) {
      assert.equal(r.status, 404);
      assert.equal(r.body.code, 'PRODUCT_NOT_FOUND');
    }
  });

  test('buyers and anonymous callers cannot write; a seller replaces only their own products', async () => {
    const [buyer, seller, otherSeller, operator] = await Promise.all([
      tokenFor('buyer'),
      tokenFor('seller'),
      tokenFor('seller'),
      tokenFor('operator'),
    ]);
    const s = sku();
    const denied = await call('PUT', `/v1/catalog/products/${s}`, product(), buyer);
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 'FORBIDDEN');
    const anonymous = await call('PUT', `/v1/catalog/products/${s}`, product());
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.code, 'UNAUTHENTICATED');
    assert.equal(await rows(s), 0, 'nothing written');

    assert.equal((await call('PUT', `/v1/catalog/products/${s}`, product(), seller)).status, 201);
    assert.equal(
      (await call('PUT', `/v1/catalog/products/${s}`, product({ priceMinor: 999 }), seller)).status,
      200,
    );
    const stolen = await call('PUT', `/v1/catalog/products/${s}`, product({ priceMinor: 1 }), otherSeller);
    assert.equal(stolen.status, 403);
    assert.equal(stolen.body.code, 'FORBIDDEN');
    assert.equal((await call('GET', `/v1/catalog/products/${s}`)).body.priceMinor, 999);

    for (const token of [buyer, seller]) {
      const r = await call('DELETE', `/v1/catalog/products/${s}`, undefined, token);
      assert.equal(r.status, 403);
      assert.equal(r.body.code, 'FORBIDDEN');
    }
    assert.equal((await call('GET', `/v1/catalog/products/${s}`)).status, 200, 'still on sale');

    const byOperator = await call('PUT', `/v1/catalog/products/${s}`, product({ priceMinor: 777 }), operator);
    assert.equal(byOperator.status, 200, 'an operator replaces any product');
    assert.equal(byOperator.body.priceMinor, 777);
    assert.equal(
      (await call('PUT', `/v1/catalog/products/${s}`, product({ priceMinor: 778 }), seller)).status,
      200,
      'the seller still owns it after an operator edit',
    );
  });
});

describe('validation', () => {
  test('invalid products are a 400 with a code and write nothing', async () => {
    const operator = await tokenFor('operator');
    const good = sku();
    const cases: [string, unknown, string][] = [
      ['ab', product(), 'VALIDATION_FAILED'],
      ['lower-case-sku', product(), 'VALIDATION_FAILED'],
      ['SKU_WITH_UNDERSCORE', product(), 'VALIDATION_FAILED'],
      [`${'A'.repeat(41)}`, product(), 'VALIDATION_FAILED'],
      [good, product({ priceMinor: -1 }), 'VALIDATION_FAILED'],
      [good, product({ priceMinor: 19.99 }), 'VALIDATION_FAILED'],
      [good, product({ priceMinor: '1999' }), 'VALIDATION_FAILED'],
      [good, product({ priceMinor: 2 ** 53 }), 'VALIDATION_FAILED'],
      [good, product({ currency: 'eur' }), 'VALIDATION_FAILED'],
      [good, product({ currency: 'EURO' }), 'VALIDATION_FAILED'],
      [good, product({ currency: 'E1R' }), 'VALIDATION_FAILED'],
      [good, product({ category: 'Home Goods' }), 'VALIDATION_FAILED'],
      [good, product({ title: '' }), 'VALIDATION_FAILED'],
      [good, product({ title: '   ' }), 'INVALID_PRODUCT'],
      [good, product({ sku: good }), 'VALIDATION_FAILED'],
      [good, product({ attributes: ['not', 'an', 'object'] }), 'VALIDATION_FAILED'],
      [good, product({ attributes: { blob: 'x'.repeat(5000) } }), 'ATTRIBUTES_TOO_LARGE'],
      [good, product({ attributes: { a: { b: { c: { d: { e: 1 } } } } } }), 'ATTRIBUTES_TOO_LARGE'],
      [
        good,
        product({ attributes: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) }),
        'VALIDATION_FAILED',
      ],
    ];
    for (const [s, body, code] of cases) {
      const r = await call('PUT', `/v1/catalog/products/${encodeURIComponent(s)}`, body, operator);
      assert.equal(r.status, 400, `${s} ${JSON.stringify(body).slice(0, 80)}`);
      assert.equal(r.body.code, code, `${s} ${JSON.stringify(body).slice(0, 80)}: ${r.body.message}`);
      assert.equal(typeof r.body.message, 'string');
    }
    assert.equal(await rows(good, ...cases.map(([s]) => s)), 0, 'nothing written');

    // A bad replacement leaves the existing product as it was.
    const created = await call('PUT', `/v1/catalog/products/${good}`, product(), operator);
    assert.equal(created.status, 201);
    const bad = await call('PUT', `/v1/catalog/products/${good}`, product({ priceMinor: -5 }), operator);
    assert.equal(bad.status, 400);
    assert.deepEqual((await call('GET', `/v1/catalog/products/${good}`)).body, created.body);
  });

  test('malformed JSON and a bad sku on read are 400s', async () => {
    const operator = await tokenFor('operator');
    const r = await fetch(`${base}/v1/catalog/products/${sku()}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${operator}` },
      body: '{"title": ',
    });
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as { code: string }).code, 'MALFORMED_JSON');
    const read = await call('GET', '/v1/catalog/products/not_a_sku');
    assert.equal(read.status, 400);
    assert.equal(read.body.code, 'VALIDATION_FAILED');
  });
});
