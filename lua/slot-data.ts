/**
 * The per-user hot data of a cell that must follow a user when their slot moves to another cell:
 * for every sale, the units the user holds (their per-user limit) and their recorded purchase answers
 * (idempotency), and the user's fraud velocity counters. Reservations themselves stay where they were
 * made and settle there (they are the old cell's stock), and so do open cart holds.
 *
 * Merging is additive so moves compose: held counts are added (HINCRBY), so units a user's old-cell
 * reservation gives back later (a negative delta left in the old cell) are accounted again if the slot
 * ever returns; recorded answers are set only where none exists (HSETNX). A moved `R` answer is
 * rewritten `R:<oldCell>/<rid>:<exp>` so a replay in the new cell still names the reservation where
 * it lives.
 */
import { cellTag, saleCellKeys } from './keys.ts';
import type { RedisClient } from './loader.ts';
import { scanKeys } from './scan.ts';

/** Source and target may be single servers or Redis Clusters; every pipeline stays in one cell's hash tag. */
export interface SlotDataMove {
  source: RedisClient;
  target: RedisClient;
  fromCell: number;
  toCell: number;
  /** Whether a user id belongs to the slots being moved. */
  moving: (userId: string) => boolean;
}

export interface SlotDataReport {
  sales: number;
  users: number;
  heldFields: number;
  answers: number;
  fraudKeys: number;
}

/** The sale ids configured in a cell (their main hash `{c}:fs:<sale>`). */
async function salesOf(redis: RedisClient, cell: number): Promise<string[]> {
  const prefix = `${cellTag(String(cell))}:fs:`;
  return (await scanKeys(redis, `${prefix}*`))
    .map((k) => k.slice(prefix.length))
    .filter((rest) => !rest.includes(':'));
}

/** Copies the moving users' data from the source cell to the target cell. Safe to repeat. */
export async function copySlotData(
  m: SlotDataMove,
): Promise<SlotDataReport & { fields: Map<string, string[]> }> {
  const report = { sales: 0, users: 0, heldFields: 0, answers: 0, fraudKeys: 0 };
  const users = new Set<string>();
  /** Per source users-hash key: the fields copied (removed from the source once the move is done). */
  const fields = new Map<string, string[]>();
  for (const saleId of await salesOf(m.source, m.fromCell)) {
    report.sales++;
    const from = saleCellKeys(String(m.fromCell), saleId).users;
    const to = saleCellKeys(String(m.toCell), saleId).users;
    const copied: string[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await m.source.hscan(from, cursor, 'COUNT', 1000);
      cursor = next;
      const pipe = m.target.pipeline();
      for (let i = 0; i < flat.length; i += 2) {
        const field = flat[i]!;
        const value = flat[i + 1]!;
        const colon = field.indexOf(':');
        const user = colon < 0 ? field : field.slice(0, colon);
        if (!m.moving(user)) continue;
        users.add(user);
        copied.push(field);
        if (colon < 0) {
          pipe.hincrby(to, field, Number(value));
          report.heldFields++;
        } else {
          pipe.hsetnx(
            to,
            field,
            value.startsWith('R:') && !value.slice(2).includes('/')
              ? `R:${m.fromCell}/${value.slice(2)}`
              : value,
          );
          report.answers++;
        }
      }
      await pipe.exec();
    } while (cursor !== '0');
    if (copied.length > 0) fields.set(from, copied);
  }
  // Fraud velocity counters of the moving users (sorted sets under the cell's tag, per user).
  const fraudPrefix = `${cellTag(String(m.fromCell))}:fraud:u:`;
  for (const key of await scanKeys(m.source, `${fraudPrefix}*`)) {
    const rest = key.slice(fraudPrefix.length);
    const user = rest.slice(0, rest.lastIndexOf(':'));
    if (!m.moving(user)) continue;
    const dump = await m.source.dumpBuffer(key);
    if (!dump) continue;
    const ttl = Math.max(0, await m.source.pttl(key));
    const target = `${cellTag(String(m.toCell))}:fraud:u:${rest}`;
    await m.target.restore(target, ttl, dump, 'REPLACE');
    report.fraudKeys++;
    fields.set(key, []);
  }
  report.users = users.size;
  return { ...report, fields };
}

/** Removes what was copied from the source cell (after routing switched to the target). */
export async function removeCopiedData(source: RedisClient, fields: Map<string, string[]>): Promise<void> {
  for (const [key, list] of fields) {
    if (list.length === 0) await source.del(key);
    else for (let i = 0; i < list.length; i += 500) await source.hdel(key, ...list.slice(i, i + 500));
  }
}
