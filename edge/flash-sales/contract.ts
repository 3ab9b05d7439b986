/**
 * The flash-sale client contract at the edge, written once: the errors (codes, statuses, messages),
 * the request schemas and the reservation answer the routes and the OpenAPI document share.
 */
import { Type } from '@sinclair/typebox';
import { defineErrors } from '../../services/kit/index.ts';

export const PurchaseErrors = defineErrors({
  SALE_NOT_FOUND: { status: 404, message: 'No such flash sale' },
  RESERVATION_NOT_FOUND: { status: 404, message: 'No such reservation' },
  IDEMPOTENCY_KEY_REQUIRED: {
    status: 400,
    message: 'A purchase needs an Idempotency-Key header (1-128 printable ASCII characters, no spaces)',
  },
  BAD_POW: { status: 400, message: 'The proof of work is missing, stale or wrong; get a new challenge' },
  BAD_QUANTITY: { status: 400, message: 'qty exceeds the per-user limit of this sale' },
  SOLD_OUT: { status: 409, message: 'Sold out' },
  LIMIT_REACHED: { status: 409, message: 'You reached the per-user limit of this sale' },
  NOT_STARTED: { status: 409, message: 'The sale has not started yet' },
  ENDED: { status: 409, message: 'The sale has ended' },
  SALE_PAUSED: { status: 409, message: 'The sale is paused; retry shortly' },
  BUSY: { status: 503, message: 'Busy; retry shortly with the same Idempotency-Key' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message:
      'This Idempotency-Key was used for a purchase with another quantity; use a new key for a new purchase',
  },
});

/** An Idempotency-Key: 1-128 printable ASCII characters, no spaces. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
export const SaleParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9]{1,64}$' }) });
export const PurchaseBody = Type.Object(
  {
    qty: Type.Integer({ minimum: 1, maximum: 1000 }),
    pow: Type.Optional(
      Type.Object(
        { challenge: Type.String({ maxLength: 64 }), nonce: Type.String({ maxLength: 64 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export const Reserved = Type.Object({
  reservationId: Type.String(),
  expiresAt: Type.String(),
  qty: Type.Integer(),
});
