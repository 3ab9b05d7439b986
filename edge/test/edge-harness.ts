// Starts a real edge in-process in front of real auth and user services (see the identity harness),
// with a cell map of its own written to a temp file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CellMap, CellRouter, generateMap, loadCellMap, serializeCellMap } from '../../cells/index.ts';
import { createAccessTokenVerifier } from '../../services/auth/index.ts';
import { type Identity, startIdentity } from '../../services/auth/test/identity-harness.ts';
import { createFlashSaleApp, FLASH_SALE_MIGRATIONS } from '../../services/flash-sale/index.ts';
import { createLogger, createMetrics, Health, migrate } from '../../services/kit/index.ts';
import { stackSetting } from '../../services/kit/testing.ts';
import { createEdge, type Edge } from '../app.ts';
import { loadEdgeConfig } from '../config.ts';

/** A map of `cells` cells; shards listed in `deadShards` point at a Redis that does not exist. */
export function testMap(cells = 4, deadShards: number[] = [], shards = 1): CellMap {
  return generateMap({
    cells,
    shards,
    name: 'edge-test',
    redis: (i) => ({ url: deadShards.includes(i) ? 'redis://127.0.0.1:1' : stackSetting('TITAN_REDIS_URL') }),
    postgres: () => stackSetting('TITAN_DATABASE_URL'),
  });
}

export interface EdgeHarness {
  identity: Identity;
  flashSale: ReturnType<typeof createFlashSaleApp> | undefined;
  edge: Edge;
  base: string;
  mapFile: string;
  writeMap(map: CellMap): void;
  /** Registers and logs in a fresh user; returns its id and access token. */
  user(): Promise<{ userId: string; email: string; token: string }>;
  call(
    method: string,
    path: string,
    opts?: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    headers: Headers;
    body: any;
  }>;
  stop(): Promise<void>;
}

export async function startEdge(
  options: { map?: CellMap; env?: Record<string, string>; flashSale?: boolean } = {},
): Promise<EdgeHarness> {
  const identity = await startIdentity({ TITAN_LOGIN_MAX_FAILURES_PER_IP: '100000' });
  const dir = mkdtempSync(join(tmpdir(), 'titan-edge-'));
  const mapFile = join(dir, 'cells.json');
  const writeMap = (map: CellMap) => writeFileSync(mapFile, serializeCellMap(map));
  writeMap(options.map ?? testMap());
  // The flash-sale control plane, in-process, on the identity harness's database.
  let flashSale: ReturnType<typeof createFlashSaleApp> | undefined;
  let flashSaleUrl = 'http://127.0.0.1:1';
  if (options.flashSale) {
    await migrate(identity.db.pool, 'flash-sale', FLASH_SALE_MIGRATIONS);
    const router = new CellRouter(loadCellMap(mapFile));
    flashSale = createFlashSaleApp({
      pool: identity.db.pool,
      router: () => router,
      verify: createAccessTokenVerifier({
        jwks: new URL(`${identity.authUrl}/v1/auth/jwks`),
        issuer: 'titan-auth',
        audience: 'titan',
      }),
      log: createLogger({ name: 'flash-sale-test', level: process.env.TITAN_TEST_LOG_LEVEL ?? 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      health: new Health(),
      control: { tickMs: 50, sweepEveryMs: 300 },
    });
    flashSale.start();
    flashSaleUrl = `http://127.0.0.1:${await flashSale.server.listen(0, '127.0.0.1')}`;
  }
  const config = loadEdgeConfig({
    TITAN_CELL_MAP: mapFile,
    TITAN_AUTH_URL: identity.authUrl,
    TITAN_USER_URL: identity.userUrl,
    TITAN_AUTH_JWKS_URL: `${identity.authUrl}/v1/auth/jwks`,
    TITAN_EDGE_MAX_BODY_BYTES: '4096',
    TITAN_EDGE_BODY_TIMEOUT_MS: '1000',
    TITAN_EDGE_AUTH_ATTEMPTS_PER_MINUTE: '100000',
    TITAN_POW_SECRET: 'edge-test-pow-secret-0123456789',
    TITAN_FLASH_SALE_URL: flashSaleUrl,
    ...options.env,
  });
  const edge = await createEdge({
    config,
    log: createLogger({ name: 'edge-test', level: process.env.TITAN_TEST_LOG_LEVEL ?? 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    health: new Health(),
  });
  const base = `http://127.0.0.1:${await edge.start(0, '127.0.0.1')}`;
  const call: EdgeHarness['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    const r = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {}
    return { status: r.status, headers: r.headers, body: parsed };
  };
  const password = 'correct horse battery';
  return {
    identity,
    flashSale,
    edge,
    base,
    mapFile,
    writeMap,
    call,
    async user() {
      const email = identity.email();
      const reg = await call('POST', '/v1/auth/register', { body: { email, password } });
      const login = await call('POST', '/v1/auth/login', { body: { email, password } });
      if (reg.status !== 201 || login.status !== 200)
        throw new Error(`cannot make a user: ${reg.status} ${login.status}`);
      return { userId: reg.body.userId, email, token: login.body.accessToken };
    },
    async stop() {
      await edge.close();
      await flashSale?.close();
      await identity.stop();
    },
  };
}
