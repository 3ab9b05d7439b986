/** The flash-sale service's public face. */
import { fileURLToPath } from 'node:url';

export { createFlashSaleApp, type FlashSaleAppDeps } from './app.ts';
export { type FlashSaleConfig, loadFlashSaleConfig } from './config.ts';
export type { SaleSnapshot } from './control-loop.ts';
export { type Challenge, issueChallenge, solveChallenge, verifyProof } from './domain/pow.ts';
export type { SaleState } from './domain/sale.ts';
export { FlashSaleErrors } from './errors.ts';
export { registerFlashSaleRoutes } from './routes.ts';

export const FLASH_SALE_MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));
export { seedDemoSale } from './seed.ts';
