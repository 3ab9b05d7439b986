/**
 * Moves flash-sale quota between a sale's unallocated pool (tag {fs:<sale>}) and a cell's quota (tag
 * {c<cell>}). The two sides live in different hash tags, so one script cannot move the units atomically; the
 * move is three idempotent steps joined by a transfer log kept under the SOURCE's tag:
 *
 *   1. quota-debit   (source tag)       take the units, log the transfer `pending`
 *   2. quota-credit  (destination tag)  add the units once per transfer id
 *   3. quota-settle  (source tag)       mark the log entry `done`
 *
 * If the destination refuses (not configured) or the mover crashed between steps, recovery either finishes
 * the transfer (steps 2 and 3) or undoes it: quota-abort writes a tombstone at the destination so a late step 2
 * can never apply, then quota-settle 'undo' refunds the source. Every step is idempotent, so the mover and any
 * number of recoveries may race and still apply the units exactly once (or not at all).
 */
import { LuaErrors } from './errors.ts';
import { saleCellKeys, salePoolKeys } from './keys.ts';
import { checkCell, checkIdent, checkInt, type QuotaSide, type TitanScripts } from './loader.ts';

/**
 * The scripts of the Redis holding a side. One `TitanScripts` serves when every side lives on one server
 * (or one Redis Cluster); a resolver serves when the pool and the cells sit on different shards.
 */
export type ScriptsForSide = TitanScripts | ((side: QuotaSide) => TitanScripts);
const on = (scripts: ScriptsForSide, side: QuotaSide): TitanScripts =>
  typeof scripts === 'function' ? scripts(side) : scripts;

export type TransferOutcome =
  | { readonly status: 'DONE' }
  | { readonly status: 'UNDONE' }
  | { readonly status: 'INSUFFICIENT'; readonly available: number };

export interface TransferInput {
  readonly saleId: string;
  /** Idempotency key of the transfer: a retried id applies once. */
  readonly transferId: string;
  readonly amount: number;
  readonly from: QuotaSide;
  readonly to: QuotaSide;
  readonly now: number;
}

/** Runs a whole transfer. A retry with the same transferId finishes the first attempt, never a second move. */
export async function transferQuota(scripts: ScriptsForSide, t: TransferInput): Promise<TransferOutcome> {
  const d = await on(scripts, t.from).quotaDebit(t);
  if (d.status === 'INSUFFICIENT') return d;
  if (d.status === 'EXISTS' && d.state !== 'PENDING') return { status: d.state };
  return finishTransfer(scripts, t.saleId, t.transferId, t.amount, t.from, t.to);
}

/** Steps 2 and 3 of a debited transfer, undoing it when the destination refuses. */
export async function finishTransfer(
  scripts: ScriptsForSide,
  saleId: string,
  transferId: string,
  amount: number,
  from: QuotaSide,
  to: QuotaSide,
): Promise<{ status: 'DONE' | 'UNDONE' }> {
  const credit = await on(scripts, to).quotaCredit({ saleId, transferId, amount, to });
  let outcome: 'done' | 'undo' = 'done';
  if (credit === 'ABORTED' || credit === 'NOT_CONFIGURED') {
    outcome = (await on(scripts, to).quotaAbort({ saleId, transferId, to })) === 'CREDITED' ? 'done' : 'undo';
  }
  const settled = await on(scripts, from).quotaSettle({ saleId, transferId, from, outcome });
  if (settled !== (outcome === 'done' ? 'DONE' : 'UNDONE')) {
    throw LuaErrors.LUA_TRANSFER_INCOMPLETE(
      `transfer ${transferId} settled as ${settled}, expected ${outcome}`,
      {
        transferId,
      },
    );
  }
  return { status: settled };
}

export interface RecoveredTransfer {
  readonly transferId: string;
  readonly from: QuotaSide;
  readonly status: 'DONE' | 'UNDONE';
}

/**
 * Finds transfers of a sale left pending (on the pool and on each given cell) for at least `minAgeMs` and
 * finishes them, or undoes those whose destination refuses. Safe to run at any time, also concurrently with
 * live transfers (a young pending entry is most likely a transfer in progress: `minAgeMs` leaves it alone).
 */
export async function recoverTransfers(
  scripts: ScriptsForSide,
  input: { saleId: string; cells: readonly string[]; now: number; minAgeMs: number },
): Promise<RecoveredTransfer[]> {
  const saleId = checkIdent('saleId', input.saleId);
  const cutoff = checkInt('now', input.now, 0, 1e14) - checkInt('minAgeMs', input.minAgeMs, 0, 1e12);
  const sides: QuotaSide[] = ['pool', ...input.cells.map((c) => ({ cell: checkCell('cells[]', c) }))];
  const recovered: RecoveredTransfer[] = [];
  for (const from of sides) {
    const k = from === 'pool' ? salePoolKeys(saleId) : saleCellKeys(from.cell, saleId);
    const redis = on(scripts, from).redis;
    const ids = await redis.zrangebyscore(k.transferPending, '-inf', cutoff);
    for (const transferId of ids) {
      const entry = await redis.hget(k.transferOut, transferId);
      const m = entry === null ? null : /^p\|(\d+)\|([^|]+)\|/.exec(entry);
      if (m === null) continue;
      const to: QuotaSide = m[2] === 'pool' ? 'pool' : { cell: m[2]!.slice(2) };
      const r = await finishTransfer(scripts, saleId, transferId, Number(m[1]), from, to);
      recovered.push({ transferId, from, status: r.status });
    }
  }
  return recovered;
}
