/**
 * The wire format between the engine's main thread and its workers: msgpackr-packed arrays, copied into a buffer
 * of their own so they can be transferred (msgpackr packs into a shared scratch buffer, and transferring or
 * structured-cloning a view of it would move or copy the whole scratch buffer).
 *
 * Task:  [batchKey, now, n, ...n * STRIDE request fields]   (the worker sets `now`; for flash sales this is the
 *        purchase script's ARGV layout, lua/flash-sale-purchase.ts, so the worker passes it on as it is)
 * Reply: [code, startedAtMs, runMicros, luaCalls, ...payload]
 *        code OK: the kind's reply (flash sale: the script's `[expiresAt, ...one entry per request]`; the others:
 *        one entry per request); REFUSED: [errorCode, message] (the batch was refused as a whole, not
 *        retriable); TRANSIENT: [message] (Redis unreachable or similar: retriable, nothing was applied).
 * Fraud: batchKey = the cell's thresholds "<review>|<deny>" (so they travel with the task and a `tune` starts a
 *        new batch); per request the fields are [FraudTuple, 0, 0, 0]; a reply entry is
 *        [score, decision, [code, contribution, ...], ...the 7 velocity counters in VELOCITY_COUNTERS order].
 */
import { Packr } from 'msgpackr';
import { FRAUD_COUNTERS } from '../lua/loader.ts';
import type { FraudDecision, FraudReason, FraudRequest, FraudScore, FraudThresholds } from './fraud/index.ts';
import type { FraudScoredOutcome } from './outcomes.ts';

export const STRIDE = 4;
export const TASK_HEADER = 3;
export const REPLY_HEADER = 4;

export const ReplyCode = { OK: 0, REFUSED: 1, TRANSIENT: 2 } as const;

/** Inventory task entries: [op, holdId, ttlMs, items as flat sku, quantity pairs]. */
export const InventoryOp = { RESERVE: 1, COMMIT: 2, RELEASE: 3 } as const;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Packs a message into a Uint8Array that owns its whole ArrayBuffer (safe to put in a transfer list). */
/**
 * The task a pool sends to warm a thread (see WorkerPool.warm): zero bytes, answered with zero bytes once the
 * thread has loaded and connected, by every worker kind (workers/connection.ts `answeringWarmTasks`).
 */
export const WARM_TASK_BYTES = 0;

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

/** A FraudRequest as a fixed-order array: compact on the wire and free of any extra fields the caller had. */
export type FraudTuple = [
  userId: string,
  accountAgeDays: number,
  amountMinor: number,
  currency: string,
  itemCount: number,
  cardFingerprint: string,
  deviceId: string,
  ip: string,
  ipCountry: string,
  billingCountry: string,
  shippingCountry: string | null,
  cardBinCountry: string,
];

export function fraudTuple(r: FraudRequest): FraudTuple {
  return [
    r.userId,
    r.accountAgeDays,
    r.amountMinor,
    r.currency,
    r.itemCount,
    r.cardFingerprint,
    r.deviceId,
    r.ip,
    r.ipCountry,
    r.billingCountry,
    r.shippingCountry,
    r.cardBinCountry,
  ];
}

export function fraudRequestOf(t: FraudTuple): FraudRequest {
  return {
    userId: t[0],
    accountAgeDays: t[1],
    amountMinor: t[2],
    currency: t[3],
    itemCount: t[4],
    cardFingerprint: t[5],
    deviceId: t[6],
    ip: t[7],
    ipCountry: t[8],
    billingCountry: t[9],
    shippingCountry: t[10],
    cardBinCountry: t[11],
  };
}

/** The fraud batch key: the thresholds a batch is decided at (String(number) round-trips exactly). */
export function fraudBatchKey(t: FraudThresholds): string {
  return `${t.reviewThreshold}|${t.denyThreshold}`;
}
export function thresholdsOfKey(key: string): FraudThresholds {
  const i = key.indexOf('|');
  return { reviewThreshold: Number(key.slice(0, i)), denyThreshold: Number(key.slice(i + 1)) };
}

/** One reply entry of the fraud worker; `velocity` is the script's flat reply, attempt `i`'s counters at 7i. */
export function encodeFraudScore(s: FraudScore, velocity: readonly number[], i: number): unknown[] {
  const reasons: (string | number)[] = [];
  for (const r of s.reasons) reasons.push(r.code, r.contribution);
  const entry: unknown[] = [s.score, s.decision, reasons];
  for (let j = i * 7; j < i * 7 + 7; j++) entry.push(velocity[j]);
  return entry;
}

export function decodeFraudScore(entry: unknown): FraudScoredOutcome {
  const e = entry as [number, FraudDecision, (string | number)[], ...number[]];
  const flat = e[2];
  const reasons: FraudReason[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    reasons.push({ code: flat[i] as FraudReason['code'], contribution: flat[i + 1] as number });
  }
  const velocity: Record<string, number> = {};
  for (let j = 0; j < FRAUD_COUNTERS.length; j++) velocity[FRAUD_COUNTERS[j]!] = e[3 + j] as number;
  return {
    status: 'scored',
    score: e[0],
    decision: e[1],
    reasons,
    velocity: velocity as unknown as FraudScoredOutcome['velocity'],
  };
}
