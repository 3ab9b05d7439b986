/**
 * What must hold after every chaos run, read from the cells' Redis, the bus and the control plane (never
 * from the load generator's own bookkeeping alone):
 * - oversold units 0 (units reserved or sold <= stock; the ledger's reserved + sold likewise);
 * - no user above the per-user limit (units held per user, over every cell);
 * - every acknowledged purchase (a 200) has its reservation record (in any state: reserved, committed,
 *   released, expired) in the cell it named, for the user it was sold to;
 * - its `reservation.created` event is on the bus exactly once after deduplication by event id;
 * - the sale's ledger balances: sold + reserved + cell quotas + pool == stock.
 */
import { request } from 'undici';
import { outboxKey, saleCellKeys } from '../../lua/keys.ts';
import type { BenchUser } from '../../native-bench/lib/users.ts';
import { decodeEvent, RedisStreamsBus, topicOf } from '../../services/events/index.ts';
import type { Acknowledged } from './buyers.ts';
import type { ChaosRig } from './rig.ts';

const HELD = new Set(['R', 'C']);

export interface CheckResult {
  oversold: number;
  usersAboveLimit: number;
  acknowledged: number;
  /** Acknowledged purchases whose reservation record is missing (or names another user). */
  acknowledgedLost: number;
  /** Acknowledged purchases with no `reservation.created` event on the bus. */
  eventsMissing: number;
  /** Reservations with more than one distinct `reservation.created` event. */
  eventsDuplicated: number;
  ledgerBalanced: boolean;
  ledger: { stock: number; sold: number; reserved: number; quotas: number; pool: number };
  /** Milliseconds the relay took to publish every outbox entry after the load ended. */
  relayCatchUpMs: number;
  problems: string[];
}

/** Waits until every cell's relay cursor reached the end of its outbox stream. */
export async function waitForRelay(rig: ChaosRig, timeoutMs = 60_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    let behind = 0;
    for (const cell of rig.map.cells) {
      const redis = rig.shardOfCell(cell.id).client;
      const key = outboxKey(String(cell.id));
      const [last] = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
      const cursor = await redis.hget(`${key}:relay`, 'id');
      if (last && (cursor === null || compareIds(cursor, last[0]) < 0)) behind++;
    }
    if (behind === 0) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`the relay is still behind on ${behind} cells`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

/** Every reservation record of the sale: public id -> { state, userId, qty }. */
async function reservationRecords(rig: ChaosRig, saleId: string) {
  const records = new Map<string, { state: string; userId: string; qty: number }>();
  for (const cell of rig.map.cells) {
    const all = await rig
      .shardOfCell(cell.id)
      .client.hgetall(saleCellKeys(String(cell.id), saleId).reservations);
    for (const [rid, value] of Object.entries(all)) {
      const [state, userId, qty] = value.split('|') as [string, string, string];
      records.set(`${saleId}-${cell.id}-${rid}`, { state, userId, qty: Number(qty) });
    }
  }
  return records;
}

/** Distinct `reservation.created` event ids per reservation of the sale, as the bus holds them. */
async function createdEvents(rig: ChaosRig, saleId: string): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  // The bus's own key layout (the relay publishes through a RedisStreamsBus with its default prefix).
  const bus = new RedisStreamsBus(rig.shared);
  const topic = topicOf('reservation.created');
  const partitions = await bus.partitionsOf(topic);
  for (let p = 0; p < partitions; p++) {
    const stream = bus.streamKey(topic, p);
    let from = '-';
    for (;;) {
      const page = await rig.shared.xrangeBuffer(stream, from, '+', 'COUNT', 5000);
      for (const [, fields] of page) {
        const v = fields[3];
        if (!v) continue;
        const e = decodeEvent(v);
        const payload = e.payload as { saleId?: string; reservationId?: string };
        if (e.type !== 'reservation.created' || payload.saleId !== saleId) continue;
        let ids = out.get(payload.reservationId!);
        if (!ids) {
          ids = new Set();
          out.set(payload.reservationId!, ids);
        }
        ids.add(e.id);
      }
      if (page.length < 5000) break;
      from = `(${page[page.length - 1]![0].toString()}`;
    }
  }
  return out;
}

async function ledgerOf(rig: ChaosRig, saleId: string) {
  const r = await request(`${rig.edgeUrl}/v1/admin/flash-sales/${saleId}/ledger`, {
    headers: { authorization: `Bearer ${rig.operatorToken}` },
  });
  const body = (await r.body.json()) as CheckResult['ledger'] & { balanced: boolean };
  if (r.statusCode !== 200) throw new Error(`ledger: ${r.statusCode} ${JSON.stringify(body)}`);
  return body;
}

export async function checkSale(
  rig: ChaosRig,
  input: {
    saleId: string;
    stock: number;
    perUserLimit: number;
    users: BenchUser[];
    acknowledged: Acknowledged[];
  },
): Promise<CheckResult> {
  const problems: string[] = [];
  const relayCatchUpMs = await waitForRelay(rig);
  const records = await reservationRecords(rig, input.saleId);
  const events = await createdEvents(rig, input.saleId);

  let held = 0;
  const perUser = new Map<string, number>();
  for (const r of records.values()) {
    if (!HELD.has(r.state)) continue;
    held += r.qty;
    perUser.set(r.userId, (perUser.get(r.userId) ?? 0) + r.qty);
  }
  const usersAboveLimit = [...perUser.values()].filter((n) => n > input.perUserLimit).length;

  let acknowledgedLost = 0;
  let eventsMissing = 0;
  for (const a of input.acknowledged) {
    const record = records.get(a.reservationId);
    if (!record || record.userId !== input.users[a.user]!.userId) {
      acknowledgedLost++;
      if (problems.length < 10) problems.push(`acknowledged ${a.reservationId} (key ${a.key}) has no record`);
    }
    if ((events.get(a.reservationId)?.size ?? 0) === 0) {
      eventsMissing++;
      if (problems.length < 10)
        problems.push(`acknowledged ${a.reservationId} has no reservation.created event`);
    }
  }
  const eventsDuplicated = [...events.values()].filter((ids) => ids.size > 1).length;

  // The control plane recovers interrupted quota transfers after a few seconds; wait for a balanced read.
  let ledger = await ledgerOf(rig, input.saleId);
  for (let i = 0; i < 60 && !ledger.balanced; i++) {
    await new Promise((r) => setTimeout(r, 500));
    ledger = await ledgerOf(rig, input.saleId);
  }
  const oversold = Math.max(0, held - input.stock, ledger.sold + ledger.reserved - input.stock);
  if (!ledger.balanced) problems.push(`ledger does not balance: ${JSON.stringify(ledger)}`);
  return {
    oversold,
    usersAboveLimit,
    acknowledged: input.acknowledged.length,
    acknowledgedLost,
    eventsMissing,
    eventsDuplicated,
    ledgerBalanced: ledger.balanced,
    ledger: {
      stock: ledger.stock,
      sold: ledger.sold,
      reserved: ledger.reserved,
      quotas: ledger.quotas,
      pool: ledger.pool,
    },
    relayCatchUpMs,
    problems,
  };
}
