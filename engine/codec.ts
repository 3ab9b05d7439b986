/**
 * The wire format between the engine's main thread and its workers: msgpackr-packed arrays, copied into a buffer
 * of their own so they can be transferred (msgpackr packs into a shared scratch buffer, and transferring or
 * structured-cloning a view of it would move or copy the whole scratch buffer).
 *
 * Task:  [batchKey, now, n, ...n * STRIDE request fields]   (the worker sets `now`; flash-sale passes the array
 *        as the script's ARGV as it is: saleId, now, n, then userId, quantity, idempotencyKey, at per request)
 * Reply: [code, startedAtMs, runMicros, luaCalls, ...payload]
 *        code OK: one entry per request; REFUSED: [errorCode, message] (the batch was refused as a whole, not
 *        retriable); TRANSIENT: [message] (Redis unreachable or similar: retriable, nothing was applied).
 */
import { Packr } from 'msgpackr';
import type { PurchaseOutcome, RecordedOutcome } from './outcomes.ts';
import { ENDED, LIMIT_REACHED, NOT_STARTED, SOLD_OUT } from './outcomes.ts';

export const STRIDE = 4;
export const TASK_HEADER = 3;
export const REPLY_HEADER = 4;

export const ReplyCode = { OK: 0, REFUSED: 1, TRANSIENT: 2 } as const;

/** Inventory task entries: [op, holdId, ttlMs, items as flat sku, quantity pairs]. */
export const InventoryOp = { RESERVE: 1, COMMIT: 2, RELEASE: 3 } as const;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Packs a message into a Uint8Array that owns its whole ArrayBuffer (safe to put in a transfer list). */
export function packMessage(value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(value));
}

export function unpackMessage(buf: Uint8Array): unknown[] {
  return packr.unpack(buf) as unknown[];
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads of one process. */
export function clockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Decodes one entry of the purchase script's reply straight into the engine's outcome (see the .lua header). */
export function decodePurchase(s: string): PurchaseOutcome {
  switch (s.charCodeAt(0)) {
    case 82: {
      // 'R:<rid>:<expiresAt>'
      const i = s.indexOf(':', 2);
      return { status: 'reserved', reservationId: s.slice(2, i), expiresAt: Number(s.slice(i + 1)) };
    }
    case 83:
      return SOLD_OUT;
    case 76:
      return LIMIT_REACHED;
    case 78:
      return NOT_STARTED;
    case 69:
      return ENDED;
    case 68:
      return { status: 'duplicate', original: decodePurchase(s.slice(1)) as RecordedOutcome };
    default:
      throw new Error(`unexpected purchase result ${s}`);
  }
}
