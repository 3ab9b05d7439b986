/**
 * The catalog's storage: the only code that reads or writes `catalog_products`. PostgreSQL plays
 * the search engine (weighted full-text search, trigram autocomplete); a dedicated engine could
 * replace this module without the routes noticing.
 */
import type { Pool } from '../kit/index.ts';
import { decodeCursor, encodeCursor } from './domain/cursor.ts';
import type { Product, ProductDraft } from './domain/product.ts';
import { CatalogErrors } from './errors.ts';

const COLUMNS = `sku, title, description, brand, category, price_minor, currency, attributes, active,
  created_at, updated_at`;

interface ProductRow {
  sku: string;
  title: string;
  description: string;
  brand: string;
  category: string;
  price_minor: string;
  currency: string;
  attributes: Record<string, unknown>;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

function toProduct(row: ProductRow): Product {
  return {
    sku: row.sku,
    title: row.title,
    description: row.description,
    brand: row.brand,
    category: row.category,
    // bigint arrives as text; the table bounds it to Number.MAX_SAFE_INTEGER.
    priceMinor: Number(row.price_minor),
    currency: row.currency,
    attributes: row.attributes,
    active: row.active,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export interface Writer {
  userId: string;
  /** Operators may replace any product; others only the ones they created. */
  mayReplaceAny: boolean;
}

export interface ProductQuery {
  q?: string | undefined;
  category?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface ProductPage {
  items: Product[];
  nextCursor: string | null;
}

export interface Suggestion {
  sku: string;
  title: string;
}

const SUGGESTIONS = 10;

export class CatalogStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Creates or replaces a product. `updated_at` moves only when something changed, so replaying the
   * same PUT leaves the row exactly as it was. FORBIDDEN when the writer may not replace it.
   */
  async put(draft: ProductDraft, writer: Writer): Promise<{ product: Product; created: boolean }> {
    const r = await this.pool.query<ProductRow & { created: boolean }>(
      `INSERT INTO catalog_products AS p
         (sku, title, description, brand, category, price_minor, currency, attributes, active, owner_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (sku) DO UPDATE SET
         title = EXCLUDED.title, description = EXCLUDED.description, brand = EXCLUDED.brand,
         category = EXCLUDED.category, price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency,
         attributes = EXCLUDED.attributes, active = EXCLUDED.active,
         updated_at = CASE WHEN
             (p.title, p.description, p.brand, p.category, p.price_minor, p.currency, p.attributes, p.active)
             IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.description, EXCLUDED.brand, EXCLUDED.category,
               EXCLUDED.price_minor, EXCLUDED.currency, EXCLUDED.attributes, EXCLUDED.active)
           THEN now() ELSE p.updated_at END
       WHERE $11::boolean OR p.owner_id = EXCLUDED.owner_id
       RETURNING ${COLUMNS}, (xmax = 0) AS created`,
      [
        draft.sku,
        draft.title,
        draft.description,
        draft.brand,
        draft.category,
        draft.priceMinor,
        draft.currency,
        JSON.stringify(draft.attributes),
        draft.active,
        writer.userId,
        writer.mayReplaceAny,
      ],
    );
    const row = r.rows[0];
    if (!row) throw CatalogErrors.FORBIDDEN('A seller replaces only the products they created');
    return { product: toProduct(row), created: row.created };
  }

  /** Inserts the products that do not exist yet; existing ones are left as they are. */
  async insertMissing(drafts: readonly ProductDraft[]): Promise<number> {
    let created = 0;
    for (const d of drafts) {
      const r = await this.pool.query(
        `INSERT INTO catalog_products
           (sku, title, description, brand, category, price_minor, currency, attributes, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sku) DO NOTHING`,
        [
          d.sku,
          d.title,
          d.description,
          d.brand,
          d.category,
          d.priceMinor,
          d.currency,
          JSON.stringify(d.attributes),
          d.active,
        ],
      );
      created += r.rowCount ?? 0;
    }
    return created;
  }

  /** An active product, or PRODUCT_NOT_FOUND (a soft-deleted product is not for sale). */
  async get(sku: string): Promise<Product> {
    const r = await this.pool.query<ProductRow>(
      `SELECT ${COLUMNS} FROM catalog_products WHERE sku = $1 AND active`,
      [sku],
    );
    if (!r.rows[0]) throw CatalogErrors.PRODUCT_NOT_FOUND();
    return toProduct(r.rows[0]);
  }

  /** Soft delete: the row stays (orders reference it) but leaves search and reads. Idempotent. */
  async deactivate(sku: string): Promise<void> {
    const r = await this.pool.query(
      `UPDATE catalog_products SET active = false, updated_at = CASE WHEN active THEN now() ELSE updated_at END
       WHERE sku = $1`,
      [sku],
    );
    if (r.rowCount === 0) throw CatalogErrors.PRODUCT_NOT_FOUND();
  }

  /** Ranked full-text search when `q` has text, else the listing by sku; keyset-paginated either way. */
  async find(query: ProductQuery): Promise<ProductPage> {
    const q = query.q?.trim() || undefined;
    const shape = { q, category: query.category };
    const at = query.cursor === undefined ? undefined : decodeCursor(shape, query.cursor, q !== undefined);
    const take = query.limit + 1;
    let rows: (ProductRow & { rank?: string })[];
    if (q === undefined) {
      rows = (
        await this.pool.query<ProductRow>(
          `SELECT ${COLUMNS} FROM catalog_products
           WHERE active AND ($1::text IS NULL OR category = $1) AND ($2::text IS NULL OR sku > $2)
           ORDER BY sku LIMIT $3`,
          [query.category ?? null, at?.sku ?? null, take],
        )
      ).rows;
    } else {
      rows = (
        await this.pool.query<ProductRow & { rank: string }>(
          `SELECT ${COLUMNS}, rank::text AS rank FROM (
             SELECT p.*, ts_rank(p.search, tsq) AS rank
             FROM catalog_products p, websearch_to_tsquery('english', $1) tsq
             WHERE p.active AND p.search @@ tsq AND ($2::text IS NULL OR p.category = $2)
           ) hit
           WHERE $3::real IS NULL OR rank < $3::real OR (rank = $3::real AND sku > $4)
           ORDER BY hit.rank DESC, sku LIMIT $5`,
          [q, query.category ?? null, at?.rank ?? null, at?.sku ?? null, take],
        )
      ).rows;
    }
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const last = page[page.length - 1];
    return {
      items: page.map(toProduct),
      nextCursor:
        more && last
          ? encodeCursor(shape, q === undefined ? { sku: last.sku } : { sku: last.sku, rank: last.rank! })
          : null,
    };
  }

  /**
   * Up to 10 active products whose title starts with `prefix` (btree prefix index), then titles
   * with a word close to it by trigram word similarity (GIN trigram index), which tolerates typos;
   * the query is the `catalog_suggest` SQL function (see the migration).
   */
  async suggest(prefix: string): Promise<Suggestion[]> {
    const p = prefix.trim();
    if (p.length === 0) return [];
    const r = await this.pool.query<Suggestion>('SELECT sku, title FROM catalog_suggest($1, $2, $3)', [
      p,
      p.length >= 3,
      SUGGESTIONS,
    ]);
    return r.rows;
  }
}
