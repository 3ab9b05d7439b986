/** Settings of the flash-sale service, validated at start. */
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { loadEnvConfig, Port } from '../kit/index.ts';

const LOCAL_MAP = fileURLToPath(new URL('../../cells/maps/local.json', import.meta.url));

export const FlashSaleEnv = Type.Object({
  TITAN_FLASH_SALE_PORT: Port(8104),
  TITAN_DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  TITAN_CELL_MAP: Type.String({ default: LOCAL_MAP }),
  TITAN_AUTH_JWKS_URL: Type.String({ default: 'http://127.0.0.1:8101/v1/auth/jwks' }),
  TITAN_AUTH_ISSUER: Type.String({ default: 'titan-auth' }),
  TITAN_AUTH_AUDIENCE: Type.String({ default: 'titan' }),
  TITAN_FLASH_SALE_TICK_MS: Type.Integer({ minimum: 20, maximum: 10_000, default: 200 }),
  /** Share of a sale's stock kept in the pool at load, for the rebalancer to hand to busy cells. */
  TITAN_FLASH_SALE_POOL_FRACTION: Type.Number({ minimum: 0, maximum: 0.9, default: 0.2 }),
});

export type FlashSaleConfig = ReturnType<typeof loadFlashSaleConfig>;
export const loadFlashSaleConfig = (env: NodeJS.ProcessEnv = process.env) => loadEnvConfig(FlashSaleEnv, env);
