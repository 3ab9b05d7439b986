import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CatalogErrors } from '../errors.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { type ProductInput, validateProduct } from './product.ts';

const input = (overrides: Partial<ProductInput> = {}): ProductInput => ({
  title: '  Lamp  ',
  category: 'home',
  priceMinor: 500,
  currency: 'EUR',
  ...overrides,
});

describe('product rules', () => {
  test('a valid product is trimmed and gets its defaults', () => {
    assert.deepEqual(validateProduct('LAMP-1', input()), {
      sku: 'LAMP-1',
      title: 'Lamp',
      description: '',
      brand: '',
      category: 'home',
      priceMinor: 500,
      currency: 'EUR',
      attributes: {},
      active: true,
    });
  });

  test('each broken rule has its own code', () => {
    const cases: [string, ProductInput, { code: string }][] = [
      ['lamp-1', input(), CatalogErrors.INVALID_SKU],
      ['AB', input(), CatalogErrors.INVALID_SKU],
      ['LAMP-1', input({ priceMinor: -1 }), CatalogErrors.INVALID_PRICE],
      ['LAMP-1', input({ priceMinor: 4.5 }), CatalogErrors.INVALID_PRICE],
      ['LAMP-1', input({ priceMinor: 2 ** 53 }), CatalogErrors.INVALID_PRICE],
      ['LAMP-1', input({ currency: 'eur' }), CatalogErrors.INVALID_CURRENCY],
      ['LAMP-1', input({ title: ' ' }), CatalogErrors.INVALID_PRODUCT],
      ['LAMP-1', input({ category: 'Home' }), CatalogErrors.INVALID_PRODUCT],
      ['LAMP-1', input({ attributes: { x: 'é'.repeat(2100) } }), CatalogErrors.ATTRIBUTES_TOO_LARGE],
    ];
    for (const [sku, bad, expected] of cases) {
      assert.throws(
        () => validateProduct(sku, bad),
        (err: { code?: string; status?: number }) => err.code === expected.code && err.status === 400,
        `${sku} ${JSON.stringify(bad).slice(0, 60)}`,
      );
    }
  });
});

describe('cursors', () => {
  test('a cursor round-trips for its own query and is refused for another', () => {
    const shape = { q: 'phone', category: 'phones' };
    const c = encodeCursor(shape, { sku: 'A-1', rank: '0.0607927' });
    assert.deepEqual(decodeCursor(shape, c, true), { sku: 'A-1', rank: '0.0607927' });
    for (const [other, ranked] of [
      [{ q: 'phone' }, true],
      [{ q: 'phones', category: 'phones' }, true],
      [shape, false],
    ] as const) {
      assert.throws(() => decodeCursor(other, c, ranked), CatalogErrors.INVALID_CURSOR.is);
    }
    assert.throws(() => decodeCursor(shape, 'bm90IGpzb24', true), CatalogErrors.INVALID_CURSOR.is);
  });
});
