/** A flash sale's definition, its rules, and the state it is in at a given time. */
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { FlashSaleErrors } from '../errors.ts';

export type SaleState = 'scheduled' | 'live' | 'paused' | 'sold_out' | 'ended';

export interface Sale {
  id: string;
  sku: string;
  title: string;
  priceMinor: number;
  currency: string;
  stock: number;
  perUserLimit: number;
  startsAt: number;
  endsAt: number;
  powDifficulty: number;
  reservationTtlMs: number;
  paused: boolean;
  endedEarlyAt: number | null;
  loadedAt: number | null;
}

export const MAX_STOCK = 10_000_000;
export const MAX_DURATION_MS = 7 * 24 * 3600_000;

export const SaleInput = Type.Object(
  {
    sku: Type.String({ pattern: '^[A-Z0-9-]{3,40}$' }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    priceMinor: Type.Integer({ minimum: 0, maximum: 1e12 }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    stock: Type.Integer({ minimum: 1, maximum: MAX_STOCK }),
    perUserLimit: Type.Integer({ minimum: 1, maximum: 1000 }),
    startsAt: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T' }),
    endsAt: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T' }),
    powDifficulty: Type.Optional(Type.Integer({ minimum: 0, maximum: 24 })),
    reservationTtlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
  },
  { additionalProperties: false },
);

export const SalePatch = Type.Partial(SaleInput, { additionalProperties: false });

export function parseTime(field: string, value: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms))
    throw FlashSaleErrors.SALE_INVALID(`${field} is not a valid ISO 8601 time`, { field });
  return ms;
}

/** Cross-field rules the schema cannot say. */
export function assertWindow(startsAt: number, endsAt: number, now: number): void {
  if (endsAt <= startsAt)
    throw FlashSaleErrors.SALE_INVALID('endsAt must be after startsAt', { field: 'endsAt' });
  if (endsAt - startsAt > MAX_DURATION_MS) {
    throw FlashSaleErrors.SALE_INVALID('a sale lasts at most 7 days', { field: 'endsAt' });
  }
  if (endsAt <= now) throw FlashSaleErrors.SALE_INVALID('endsAt must be in the future', { field: 'endsAt' });
}

/** Sale ids are letters and digits only, so they can be embedded in reservation ids and keys. */
export const newSaleId = (): string => `fs${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;

export function stateOf(sale: Sale, remaining: number, now: number): SaleState {
  if (sale.endedEarlyAt !== null || now >= sale.endsAt) return 'ended';
  if (now < sale.startsAt) return 'scheduled';
  if (sale.paused) return 'paused';
  return remaining <= 0 ? 'sold_out' : 'live';
}
