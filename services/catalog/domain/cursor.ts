/**
 * Opaque keyset-pagination cursors. A cursor records where the previous page ended (the last sku,
 * and for a ranked search its rank as PostgreSQL printed it, so the comparison is exact) and a
 * fingerprint of the query it came from, so it cannot be replayed against another query.
 */
import { createHash } from 'node:crypto';
import { CatalogErrors } from '../errors.ts';

export interface PagePosition {
  /** The last sku of the previous page. */
  sku: string;
  /** Its search rank (real, as text); absent for a plain listing. */
  rank?: string;
}

export interface QueryShape {
  q?: string | undefined;
  category?: string | undefined;
}

function fingerprint(shape: QueryShape): string {
  return createHash('sha256')
    .update(JSON.stringify([shape.q ?? null, shape.category ?? null]))
    .digest('base64url')
    .slice(0, 12);
}

export function encodeCursor(shape: QueryShape, at: PagePosition): string {
  const doc = at.rank === undefined ? [fingerprint(shape), at.sku] : [fingerprint(shape), at.sku, at.rank];
  return Buffer.from(JSON.stringify(doc), 'utf8').toString('base64url');
}

/** The position a cursor names, or INVALID_CURSOR when it is malformed or from another query. */
export function decodeCursor(shape: QueryShape, cursor: string, ranked: boolean): PagePosition {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw CatalogErrors.INVALID_CURSOR();
  }
  if (!Array.isArray(doc) || doc.length !== (ranked ? 3 : 2) || doc[0] !== fingerprint(shape))
    throw CatalogErrors.INVALID_CURSOR();
  const [, sku, rank] = doc as unknown[];
  if (typeof sku !== 'string' || sku.length > 40) throw CatalogErrors.INVALID_CURSOR();
  if (!ranked) return { sku };
  if (typeof rank !== 'string' || !/^[0-9.e+-]{1,32}$/.test(rank)) throw CatalogErrors.INVALID_CURSOR();
  return { sku, rank };
}
