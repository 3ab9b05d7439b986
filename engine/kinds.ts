/**
 * The job kinds: per pool of a cell, its worker module, the codec turning worker replies into typed outcomes,
 * and the largest batch its worker accepts.
 */
import type { PoolName } from '../cells/index.ts';
import { decodePurchaseEntry, MAX_PURCHASE_BATCH } from '../lua/flash-sale-purchase.ts';
import { MAX_FRAUD_BATCH } from '../lua/loader.ts';
import { decodeFraudScore } from './codec.ts';
import type { BatchCodec } from './dispatcher.ts';
import { EngineErrors } from './errors.ts';
import {
  busy,
  type CartHoldView,
  type FraudOutcome,
  type PurchaseOutcome,
  type RetryReason,
  retry,
} from './outcomes.ts';

export const WORKER_FILES: Readonly<Record<PoolName, URL | null>> = {
  flashSale: new URL('./workers/flash-sale.worker.ts', import.meta.url),
  inventory: new URL('./workers/inventory.worker.ts', import.meta.url),
  fraud: new URL('./workers/fraud.worker.ts', import.meta.url),
};

/** Cart operations are separate Lua calls in one task; more than this per task only delays the first. */
export const MAX_INVENTORY_BATCH = 128;

function scriptError(code: string, message: string): Error {
  if (code === 'LUA_NOT_FOUND') return EngineErrors.ENGINE_SALE_NOT_FOUND(message, { code });
  if (code === 'LUA_BAD_ARGUMENT' || code.startsWith('FRAUD_INVALID'))
    return EngineErrors.ENGINE_BAD_REQUEST(message, { code });
  return EngineErrors.ENGINE_SCRIPT_FAILED(message, { code });
}

const shared = {
  refused: scriptError,
  busy: (ms: number) => busy(ms),
  retry: (reason: RetryReason, ms: number) => retry(reason, ms),
};

export const flashSaleCodec: BatchCodec<PurchaseOutcome> = {
  ...shared,
  decode: decodePurchaseEntry,
};

export const fraudCodec: BatchCodec<FraudOutcome> = {
  ...shared,
  decode: (payload, i) => decodeFraudScore(payload[i]),
};

const HOLD_STATES = {
  RESERVED: 'reserved',
  COMMITTED: 'committed',
  RELEASED: 'released',
  EXPIRED: 'expired',
} as const;

/** Inventory outcomes share one dispatcher; each method narrows the union to its own operation's outcomes. */
export const inventoryCodec: BatchCodec<unknown> = {
  ...shared,
  decode(payload, i) {
    const e = payload[i] as [0, unknown] | [1, string, string];
    if (e[0] === 1) throw scriptError(e[1], e[2]);
    const r = e[1];
    if (typeof r === 'string') return { status: r.toLowerCase() };
    const res = r as { status: string; expiresAt?: number; skus?: string[]; hold?: { state: string } };
    if (res.status === 'RESERVED') return { status: 'reserved', expiresAt: res.expiresAt };
    if (res.status === 'OUT_OF_STOCK') return { status: 'out_of_stock', skus: res.skus };
    const hold = res.hold as {
      state: keyof typeof HOLD_STATES;
      expiresAt: number;
      items: CartHoldView['items'];
    };
    const view: CartHoldView = {
      state: HOLD_STATES[hold.state],
      expiresAt: hold.expiresAt,
      items: hold.items,
    };
    return { status: 'duplicate', hold: view };
  },
};

export const HARD_MAX_BATCH: Readonly<Record<PoolName, number>> = {
  flashSale: MAX_PURCHASE_BATCH,
  inventory: MAX_INVENTORY_BATCH,
  fraud: MAX_FRAUD_BATCH,
};
