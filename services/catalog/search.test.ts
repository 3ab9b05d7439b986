import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createAccessTokenVerifier } from '../auth/index.ts';
import { createLogger, createMetrics, Health, migrate } from '../kit/index.ts';
import { createTestDatabase, type TestDatabase, uniqueId } from '../kit/testing.ts';
import {
  CATALOG_MIGRATIONS,
  CatalogStore,
  createCatalogApp,
  type ProductInput,
  seedDemoCatalog,
  validateProduct,
} from './index.ts';

let db: TestDatabase;
let store: CatalogStore;
const apps: ReturnType<typeof createCatalogApp>[] = [];

/** A catalog app over `pool`; reads are public, so its verifier trusts no key. */
async function serve(pool: TestDatabase['pool']): Promise<string> {
  const app = createCatalogApp({
    pool,
    verify: createAccessTokenVerifier({ jwks: async () => ({ keys: [] }), issuer: 'x', audience: 'x' }),
    log: createLogger({ name: 'catalog-search-test', level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    health: new Health(),
  });
  apps.push(app);
  return `http://127.0.0.1:${await app.server.listen(0, '127.0.0.1')}`;
}

let base: string;
before(async () => {
  db = await createTestDatabase();
  await migrate(db.pool, 'catalog', CATALOG_MIGRATIONS);
  store = new CatalogStore(db.pool);
  base = await serve(db.pool);
});
after(async () => {
  for (const app of apps) await app.server.close();
  await db.drop();
});

async function get(path: string, at = base) {
  const r = await fetch(`${at}${path}`);
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}

/** A made-up word of letters only, so no other test's products match it. */
function word(): string {
  return Array.from(randomBytes(9), (b) => String.fromCharCode(97 + (b % 26))).join('');
}
const sku = () => uniqueId('S-').toUpperCase();
async function put(input: Partial<ProductInput> & { title: string }, s = sku()): Promise<string> {
  const draft = validateProduct(s, { category: 'misc', priceMinor: 100, currency: 'EUR', ...input });
  await store.put(draft, { userId: 'test', mayReplaceAny: true });
  return s;
}

/** Every page of a query, following nextCursor. */
async function allPages(query: string, limit: number): Promise<{ skus: string[]; pages: number }> {
  const skus: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r = await get(`/v1/catalog/products?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.items.length <= limit);
    skus.push(...r.body.items.map((p: { sku: string }) => p.sku));
    cursor = r.body.nextCursor;
    pages++;
  } while (cursor && pages < 100);
  return { skus, pages };
}

describe('search', () => {
  test('a title match ranks above a brand match, which ranks above a description match', async () => {
    const w = word();
    const inDescription = await put({ title: 'Plain thing', description: `${w} ${w} ${w} and more` });
    const inBrand = await put({ title: 'Another thing', brand: w });
    const inTitle = await put({ title: `The ${w} lamp` });
    await put({ title: 'Unrelated lamp' });
    const r = await get(`/v1/catalog/products?q=${w}`);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.items.map((p: { sku: string }) => p.sku),
      [inTitle, inBrand, inDescription],
    );
    assert.equal(r.body.nextCursor, null);
  });

  test('web-search syntax, stemming, the category filter, and withdrawn products', async () => {
    const w = word();
    const red = await put({ title: `Red ${w} lamps`, category: 'lights' });
    const blue = await put({ title: `Blue ${w} lamp`, category: 'lights' });
    const chair = await put({ title: `${w} chair`, category: 'seats' });
    const skus = async (query: string) =>
      (await get(`/v1/catalog/products?${query}`)).body.items.map((p: { sku: string }) => p.sku).sort();
    assert.deepEqual(await skus(`q=${w}+lamp`), [red, blue].sort(), 'lamps matches lamp');
    assert.deepEqual(await skus(`q=${w}+-red`), [blue, chair].sort());
    assert.deepEqual(await skus(`q=${encodeURIComponent(`"red ${w}"`)}`), [red]);
    assert.deepEqual(await skus(`q=${w}&category=seats`), [chair]);
    await store.deactivate(chair);
    assert.deepEqual(await skus(`q=${w}`), [red, blue].sort(), 'a withdrawn product leaves search');
  });

  test('pages of a listing and of a ranked search have no duplicates and no gaps', async () => {
    const category = uniqueId('c');
    const listed: string[] = [];
    for (let i = 0; i < 23; i++) listed.push(await put({ title: `Item ${i}`, category }));
    const listing = await allPages(`category=${category}`, 5);
    assert.deepEqual(listing.skus, [...listed].sort());
    assert.equal(listing.pages, 5);

    // Many equal ranks: the sku breaks ties, so the order is total and the cursor exact.
    const w = word();
    for (let i = 0; i < 17; i++) await put({ title: `${w} gadget`, category });
    for (let i = 0; i < 6; i++) await put({ title: 'Gadget', description: `about ${w}`, category });
    const whole = (await get(`/v1/catalog/products?q=${w}&limit=100`)).body.items.map(
      (p: { sku: string }) => p.sku,
    );
    assert.equal(whole.length, 23);
    const paged = await allPages(`q=${w}`, 4);
    assert.deepEqual(paged.skus, whole);
    assert.equal(paged.pages, 6);

    // A product added behind the cursor between pages neither repeats nor shifts the next page.
    const first = await get(`/v1/catalog/products?category=${category}&limit=10`);
    await put({ title: 'Late', category }, 'S-0000000000');
    const second = await get(
      `/v1/catalog/products?category=${category}&limit=10&cursor=${first.body.nextCursor}`,
    );
    const seen = new Set(first.body.items.map((p: { sku: string }) => p.sku));
    for (const p of second.body.items) assert.ok(!seen.has(p.sku), `${p.sku} repeated`);
    assert.equal(second.body.items[0].sku > first.body.items[9].sku, true);
  });

  test('bad limits and foreign or forged cursors are a 400', async () => {
    for (const limit of ['0', '101', 'ten', '-1', '5.5']) {
      const r = await get(`/v1/catalog/products?limit=${limit}`);
      assert.equal(r.status, 400, limit);
      assert.equal(r.body.code, 'VALIDATION_FAILED');
    }
    const a = uniqueId('c');
    for (let i = 0; i < 3; i++) await put({ title: 'x', category: a });
    const page = await get(`/v1/catalog/products?category=${a}&limit=1`);
    const cursor = page.body.nextCursor as string;
    assert.ok(cursor);
    for (const query of [
      `category=${uniqueId('c')}&cursor=${cursor}`,
      `q=x&category=${a}&cursor=${cursor}`,
      'cursor=Zm9v',
    ]) {
      const r = await get(`/v1/catalog/products?${query}`);
      assert.equal(r.status, 400, query);
      assert.equal(r.body.code, 'INVALID_CURSOR');
    }
  });
});

describe('autocomplete', () => {
  test('prefix matches come first, typos still match by trigrams, at most 10, withdrawn hidden', async () => {
    const w = word();
    const exact = await put({ title: `${w} Lantern` });
    const later = await put({ title: `Solar ${w} Lantern` });
    const suggest = async (prefix: string) => {
      const r = await get(`/v1/catalog/autocomplete?prefix=${encodeURIComponent(prefix)}`);
      assert.equal(r.status, 200);
      return r.body.suggestions as { sku: string; title: string }[];
    };
    const byPrefix = await suggest(w.slice(0, 5));
    assert.equal(byPrefix[0]?.sku, exact, 'the title starting with the prefix comes first');

    // A letter dropped, or one replaced: no prefix matches, trigram word similarity still finds both.
    const other = w[5] === 'q' ? 'x' : 'q';
    for (const typo of [`${w.slice(0, 5)}${w.slice(6)}`, `${w.slice(0, 5)}${other}${w.slice(6)}`]) {
      const fuzzy = (await suggest(typo)).map((s) => s.sku);
      assert.ok(fuzzy.includes(exact) && fuzzy.includes(later), `${typo} should find ${w}: ${fuzzy}`);
    }

    const many = word();
    for (let i = 0; i < 12; i++) await put({ title: `${many} model ${i}` });
    assert.equal((await suggest(many)).length, 10);

    await store.deactivate(exact);
    assert.ok(!(await suggest(w)).some((s) => s.sku === exact), 'withdrawn products are not suggested');
    assert.deepEqual(await suggest('%_\\'), [], 'pattern characters are plain text');

    const empty = await get('/v1/catalog/autocomplete?prefix=');
    assert.equal(empty.status, 400);
    assert.equal((await get('/v1/catalog/autocomplete')).status, 400);
  });
});

describe('demo seed', () => {
  test('seeding twice creates the demo catalog once and never overwrites edits', async () => {
    const fresh = await createTestDatabase();
    try {
      await migrate(fresh.pool, 'catalog', CATALOG_MIGRATIONS);
      const first = await seedDemoCatalog(fresh.pool);
      assert.equal(first.created, first.products);
      assert.ok(first.products >= 16 && first.products <= 24);
      await fresh.pool.query("UPDATE catalog_products SET price_minor = 1 WHERE sku = 'FLASH-PHONE-1'");
      const second = await seedDemoCatalog(fresh.pool);
      assert.deepEqual(second, { products: first.products, created: 0 });
      const counts = (
        await fresh.pool.query(
          'SELECT count(*)::int AS products, count(DISTINCT category)::int AS categories FROM catalog_products',
        )
      ).rows[0];
      assert.deepEqual(counts, { products: first.products, categories: 4 });

      const at = await serve(fresh.pool);
      const phone = await get('/v1/catalog/products/FLASH-PHONE-1', at);
      assert.equal(phone.status, 200);
      assert.equal(phone.body.priceMinor, 1, 'the seed left the edited product alone');
      const found = await get('/v1/catalog/products?q=smartphone', at);
      assert.ok(found.body.items.some((p: { sku: string }) => p.sku === 'FLASH-PHONE-1'));
      const typo = await get('/v1/catalog/autocomplete?prefix=headphnes', at);
      assert.equal(typo.body.suggestions[0]?.title, 'Aurora Wireless Headphones');
    } finally {
      await fresh.drop();
    }
  });
});
