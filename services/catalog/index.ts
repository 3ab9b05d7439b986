/** The catalog service's public face. */
import { fileURLToPath } from 'node:url';

export { type CatalogAppDeps, createCatalogApp } from './app.ts';
export { type CatalogConfig, loadCatalogConfig } from './config.ts';
export {
  isSku,
  LIMITS as PRODUCT_LIMITS,
  type Product,
  type ProductDraft,
  type ProductInput,
  validateProduct,
} from './domain/product.ts';
export { CatalogErrors } from './errors.ts';
export { type CatalogRouteDeps, registerCatalogRoutes } from './routes.ts';
export { DEMO_FLASH_SKU, seedDemoCatalog } from './seed.ts';
export { CatalogStore, type ProductPage, type ProductQuery, type Suggestion } from './store.ts';

export const CATALOG_MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));
