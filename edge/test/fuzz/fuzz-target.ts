/**
 * What the fuzzer aims at: a real edge (edge harness) with the flash-sale control plane and the catalog
 * service behind it, a live sale to buy from, a scheduled "victim" sale operators may change, buyers and
 * an operator with valid tokens, and the valid ids the fuzzer mixes into path parameters.
 */
import { createServer } from 'node:net';
import { createAccessTokenVerifier } from '../../../services/auth/index.ts';
import { CATALOG_MIGRATIONS, createCatalogApp } from '../../../services/catalog/index.ts';
import { createLogger, createMetrics, Health, migrate } from '../../../services/kit/index.ts';
import { type EdgeHarness, startEdge, testMap } from '../edge-harness.ts';

export interface FuzzTarget {
  h: EdgeHarness;
  port: number;
  buyers: { userId: string; email: string; token: string }[];
  operator: { userId: string; token: string };
  /** A running sale with a large stock (purchases succeed until the per-user limit). */
  liveSaleId: string;
  /** A sale starting in the future: operators' PATCH/pause/resume/end may legitimately change it. */
  victimSaleId: string;
  /** Ids that exist, by path parameter name, so authenticated paths get past "not found". */
  validIds: Record<string, string[]>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const PASSWORD = 'correct horse battery';

export async function startFuzzTarget(options: { buyers?: number } = {}): Promise<FuzzTarget> {
  const catalogPort = await freePort();
  const h = await startEdge({
    map: testMap(4),
    flashSale: true,
    env: {
      TITAN_CATALOG_URL: `http://127.0.0.1:${catalogPort}`,
      // Rate limits are not what is fuzzed here: high enough that fuzzed requests reach the routes.
      TITAN_EDGE_IP_RATE: '1000000',
      TITAN_EDGE_IP_BURST: '1000000',
      TITAN_EDGE_USER_RATE: '1000000',
      TITAN_EDGE_USER_BURST: '1000000',
      TITAN_SLOT_MOVE_DRAIN_MS: '0',
    },
  });
  await migrate(h.identity.db.pool, 'catalog', CATALOG_MIGRATIONS);
  const catalog = createCatalogApp({
    pool: h.identity.db.pool,
    verify: createAccessTokenVerifier({
      jwks: new URL(`${h.identity.authUrl}/v1/auth/jwks`),
      issuer: 'titan-auth',
      audience: 'titan',
    }),
    log: createLogger({ name: 'catalog-fuzz', level: process.env.TITAN_TEST_LOG_LEVEL ?? 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    health: new Health(),
  });
  await catalog.server.listen(catalogPort, '127.0.0.1');

  const buyers = [];
  for (let i = 0; i < (options.buyers ?? 4); i++) buyers.push(await h.user());
  const op = await h.user();
  await h.identity.db.pool.query(
    "UPDATE users SET roles = ARRAY['buyer','operator','seller'] WHERE id = $1",
    [op.userId],
  );
  const login = await h.call('POST', '/v1/auth/login', { body: { email: op.email, password: PASSWORD } });
  if (login.status !== 200) throw new Error(`operator login failed: ${login.status}`);
  const operator = { userId: op.userId, token: login.body.accessToken as string };

  const now = Date.now();
  const createSale = async (startsAt: number, endsAt: number, stock: number, sku: string) => {
    const r = await h.call('POST', '/v1/admin/flash-sales', {
      token: operator.token,
      headers: { 'idempotency-key': `fuzz-setup-${sku}-${now}` },
      body: {
        sku,
        title: `Fuzz ${sku}`,
        priceMinor: 1999,
        currency: 'EUR',
        stock,
        perUserLimit: 5,
        startsAt: new Date(startsAt).toISOString(),
        endsAt: new Date(endsAt).toISOString(),
        reservationTtlSeconds: 86_400,
      },
    });
    if (r.status !== 201) throw new Error(`cannot create a sale: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.saleId as string;
  };
  const liveSaleId = await createSale(now - 1000, now + 6 * 3600_000, 1_000_000, 'FUZZ-LIVE-1');
  const victimSaleId = await createSale(now + 3600_000, now + 7200_000, 100, 'FUZZ-VICTIM-1');
  // Wait until the edge's sale directory knows the live sale (it polls the control plane).
  for (let i = 0; ; i++) {
    const r = await h.call('GET', `/v1/flash-sales/${liveSaleId}`);
    if (r.status === 200 && r.body.state === 'live') break;
    if (i > 200) throw new Error('the live sale never showed up at the edge');
    await new Promise((res) => setTimeout(res, 50));
  }
  const put = await h.call('PUT', '/v1/catalog/products/FUZZ-SKU-1', {
    token: operator.token,
    body: { title: 'Fuzz product', category: 'fuzz', priceMinor: 100, currency: 'EUR' },
  });
  if (put.status !== 201 && put.status !== 200)
    throw new Error(`cannot seed the catalog: ${put.status} ${JSON.stringify(put.body)}`);

  return {
    h,
    port: Number(new URL(h.base).port),
    buyers,
    operator,
    liveSaleId,
    victimSaleId,
    validIds: {
      id: [liveSaleId, victimSaleId, '0', '1', '3', buyers[0]!.userId, `${liveSaleId}-0-1`],
      sku: ['FUZZ-SKU-1', 'FLASH-PHONE-1'],
      pool: ['flashSale', 'inventory', 'fraud'],
    },
    async stop() {
      await catalog.server.close().catch(() => {});
      await h.stop();
    },
  };
}
