/**
 * The engine's error catalogue. These are thrown (rejected) for caller mistakes and unusable state; expected
 * outcomes of a purchase (sold out, BUSY, retry, ...) are typed results, never errors.
 */
import { defineErrors } from '../services/kit/errors.ts';

export const EngineErrors = defineErrors({
  ENGINE_BAD_REQUEST: { status: 400, message: 'Invalid engine request' },
  ENGINE_UNKNOWN_CELL: { status: 404, message: 'No such cell in the current cell map' },
  ENGINE_SALE_NOT_FOUND: { status: 404, message: 'The sale is not open in this cell' },
  ENGINE_POOL_UNAVAILABLE: { status: 501, message: 'This pool has no worker wired yet' },
  ENGINE_SCRIPT_FAILED: { status: 500, message: 'A Redis script refused the batch' },
  ENGINE_CLOSED: { status: 503, message: 'The engine is closed' },
  /** Internal: a task failed in a retriable way; callers see a `retry` outcome, never this error. */
  ENGINE_TASK_FAILED: { status: 503, message: 'A worker task failed; the request may be retried' },
});

export type EngineErrorCode = keyof typeof EngineErrors;
