/** The catalog's error catalogue. Clients match on `code`. */
import { defineErrors } from '../kit/index.ts';

export const CatalogErrors = defineErrors({
  PRODUCT_NOT_FOUND: { status: 404, message: 'No such product' },
  INVALID_SKU: { status: 400, message: 'SKU must be 3 to 40 characters of A-Z, 0-9 and -' },
  INVALID_PRODUCT: { status: 400, message: 'Product is not valid' },
  INVALID_PRICE: { status: 400, message: 'Price must be a non-negative integer in minor units' },
  INVALID_CURRENCY: { status: 400, message: 'Currency must be three upper-case letters (ISO 4217)' },
  ATTRIBUTES_TOO_LARGE: { status: 400, message: 'Product attributes are too large' },
  INVALID_CURSOR: { status: 400, message: 'Cursor is malformed or belongs to another query' },
  FORBIDDEN: { status: 403, message: 'This needs a role you do not have' },
});
