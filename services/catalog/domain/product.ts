/**
 * Product rules: what a valid product is, independent of HTTP and storage. The route schemas reuse
 * these limits so the OpenAPI document and the checks never disagree; `validateProduct` also
 * guards callers that do not come through HTTP (the demo seed, other in-process users).
 */
import { CatalogErrors } from '../errors.ts';

export const SKU_PATTERN = '^[A-Z0-9-]{3,40}$';
export const CATEGORY_PATTERN = '^[a-z0-9][a-z0-9-]{0,39}$';
export const CURRENCY_PATTERN = '^[A-Z]{3}$';
export const LIMITS = {
  title: 200,
  description: 5000,
  brand: 80,
  /** UTF-8 bytes of the attributes document as JSON. */
  attributesBytes: 4096,
  attributeKeys: 50,
  attributeKeyLength: 64,
  attributeDepth: 4,
} as const;

const SKU = new RegExp(SKU_PATTERN);
const CATEGORY = new RegExp(CATEGORY_PATTERN);
const CURRENCY = new RegExp(CURRENCY_PATTERN);

export interface ProductInput {
  title: string;
  description?: string;
  brand?: string;
  category: string;
  priceMinor: number;
  currency: string;
  attributes?: Record<string, unknown>;
  active?: boolean;
}

/** A product ready to store: trimmed, defaults applied. */
export interface ProductDraft {
  sku: string;
  title: string;
  description: string;
  brand: string;
  category: string;
  priceMinor: number;
  currency: string;
  attributes: Record<string, unknown>;
  active: boolean;
}

export interface Product extends ProductDraft {
  createdAt: string;
  updatedAt: string;
}

export function isSku(value: string): boolean {
  return SKU.test(value);
}

export function assertSku(value: string): string {
  if (!isSku(value)) throw CatalogErrors.INVALID_SKU(undefined, { field: 'sku' });
  return value;
}

function text(value: string | undefined, field: string, max: number, required: boolean): string {
  const v = (value ?? '').trim();
  if (required && v.length === 0)
    throw CatalogErrors.INVALID_PRODUCT(`${field} must not be empty`, { field });
  if (v.length > max) throw CatalogErrors.INVALID_PRODUCT(`${field} is longer than ${max}`, { field });
  return v;
}

function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  for (const v of Object.values(value)) deepest = Math.max(deepest, depthOf(v));
  return deepest + 1;
}

function attributes(value: Record<string, unknown> | undefined): Record<string, unknown> {
  const attrs = value ?? {};
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs))
    throw CatalogErrors.INVALID_PRODUCT('attributes must be an object', { field: 'attributes' });
  const keys = Object.keys(attrs);
  if (keys.length > LIMITS.attributeKeys || keys.some((k) => k.length > LIMITS.attributeKeyLength))
    throw CatalogErrors.ATTRIBUTES_TOO_LARGE(
      `At most ${LIMITS.attributeKeys} attributes with names of at most ${LIMITS.attributeKeyLength} characters`,
      { field: 'attributes' },
    );
  if (Buffer.byteLength(JSON.stringify(attrs), 'utf8') > LIMITS.attributesBytes)
    throw CatalogErrors.ATTRIBUTES_TOO_LARGE(`Attributes exceed ${LIMITS.attributesBytes} bytes as JSON`, {
      field: 'attributes',
    });
  if (depthOf(attrs) > LIMITS.attributeDepth)
    throw CatalogErrors.ATTRIBUTES_TOO_LARGE(`Attributes nest deeper than ${LIMITS.attributeDepth} levels`, {
      field: 'attributes',
    });
  return attrs;
}

/** The product to store for `sku`, or a 400 naming the first rule it breaks. */
export function validateProduct(sku: string, input: ProductInput): ProductDraft {
  assertSku(sku);
  if (!Number.isSafeInteger(input.priceMinor) || input.priceMinor < 0)
    throw CatalogErrors.INVALID_PRICE(undefined, { field: 'priceMinor' });
  if (typeof input.currency !== 'string' || !CURRENCY.test(input.currency))
    throw CatalogErrors.INVALID_CURRENCY(undefined, { field: 'currency' });
  if (typeof input.category !== 'string' || !CATEGORY.test(input.category))
    throw CatalogErrors.INVALID_PRODUCT('category must be a lower-case slug (a-z, 0-9, -)', {
      field: 'category',
    });
  return {
    sku,
    title: text(input.title, 'title', LIMITS.title, true),
    description: text(input.description, 'description', LIMITS.description, false),
    brand: text(input.brand, 'brand', LIMITS.brand, false),
    category: input.category,
    priceMinor: input.priceMinor,
    currency: input.currency,
    attributes: attributes(input.attributes),
    active: input.active ?? true,
  };
}
