import { defineErrors } from '../kit/index.ts';

export const FlashSaleErrors = defineErrors({
  SALE_NOT_FOUND: { status: 404, message: 'No such flash sale' },
  SALE_INVALID: { status: 400, message: 'The flash sale definition is invalid' },
  SALE_ALREADY_STARTED: { status: 409, message: 'A sale cannot be changed once it has started' },
  SALE_ENDED: { status: 409, message: 'The sale has ended' },
  FORBIDDEN: { status: 403, message: 'This needs the operator role' },
  IDEMPOTENCY_KEY_REQUIRED: { status: 400, message: 'This request needs an Idempotency-Key header' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was used with a different request' },
});
