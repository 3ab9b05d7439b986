/**
 * Decodes the entries the Lua scripts append to a cell's outbox stream (`{c<cell>}:outbox`: one field per
 * entry, its name the entry type, its value a `|`-delimited record; see the script headers) into envelopes.
 * Most entries carry one event, of the entry's type; a `reservations.created` entry carries every reservation
 * of one purchase batch and becomes one `reservation.created` event per reservation. An event's id is derived
 * from the cell, the stream id and its index in the entry, and `occurredAt` is the stream id's time (the
 * moment the script ran), so decoding the same entry twice gives the same events.
 */
import { createEvent, type EventEnvelope, OUTBOX_EVENTS_PER_ENTRY, outboxEventId } from './envelope.ts';
import { EventErrors } from './errors.ts';

interface Decoded {
  aggregateId: string;
  payload: Record<string, unknown>;
}
type Decoder = (cell: number, fields: string[]) => Decoded;

const int = (v: string | undefined, field: string): number => {
  if (v === undefined || !/^-?\d{1,15}$/.test(v))
    throw bad(field, `expected an integer, got ${JSON.stringify(v)}`);
  return Number(v);
};
const str = (v: string | undefined, field: string): string => {
  if (v === undefined || v === '') throw bad(field, 'missing');
  return v;
};
const bad = (field: string, why: string) => EventErrors.OUTBOX_RECORD_INVALID(`${field}: ${why}`, { field });

/** The public reservation id, as the edge answers it: `<saleId>-<cell>-<local id>`. */
export const publicReservationId = (saleId: string, cell: number, rid: string): string =>
  `${saleId}-${cell}-${rid}`;

const reservation =
  (withExpiry: boolean): Decoder =>
  (cell, f) => {
    if (f.length !== (withExpiry ? 5 : 4))
      throw bad('record', `expected ${withExpiry ? 5 : 4} fields, got ${f.length}`);
    const saleId = str(f[0], 'saleId');
    const reservationId = publicReservationId(saleId, cell, String(int(f[1], 'reservationId')));
    const payload: Record<string, unknown> = {
      saleId,
      reservationId,
      userId: str(f[2], 'userId'),
      qty: int(f[3], 'qty'),
    };
    if (withExpiry) payload.expiresAt = int(f[4], 'expiresAt');
    return { aggregateId: reservationId, payload };
  };

// "<saleId>|<expiresAt>|<rid>|<userId>|<qty>|<rid>|<userId>|<qty>...": one purchase batch's reservations.
const reservationsCreated = (cell: number, f: string[]): Decoded[] => {
  if (f.length < 5 || (f.length - 2) % 3 !== 0)
    throw bad('record', `bad reservations record of ${f.length} fields`);
  const count = (f.length - 2) / 3;
  if (count > OUTBOX_EVENTS_PER_ENTRY) throw bad('record', `${count} reservations in one entry`);
  const saleId = str(f[0], 'saleId');
  const expiresAt = int(f[1], 'expiresAt');
  const out: Decoded[] = [];
  for (let i = 2; i < f.length; i += 3) {
    const reservationId = publicReservationId(saleId, cell, String(int(f[i], 'reservationId')));
    out.push({
      aggregateId: reservationId,
      payload: {
        saleId,
        reservationId,
        userId: str(f[i + 1], 'userId'),
        qty: int(f[i + 2], 'qty'),
        expiresAt,
      },
    });
  }
  return out;
};

// "<holdId>|<state>|<expiresAt>|<sku>|<qty>|<sku>|<qty>..."
const cart: Decoder = (cell, f) => {
  if (f.length < 5 || (f.length - 3) % 2 !== 0) throw bad('record', `bad cart record of ${f.length} fields`);
  const holdId = str(f[0], 'holdId');
  const items: { sku: string; qty: number }[] = [];
  for (let i = 3; i < f.length; i += 2) items.push({ sku: str(f[i], 'sku'), qty: int(f[i + 1], 'qty') });
  return {
    aggregateId: `cart-${cell}-${holdId}`,
    payload: { holdId, state: str(f[1], 'state'), expiresAt: int(f[2], 'expiresAt'), items },
  };
};

// "<adjustId>|<sku>|<before>|<after>|<reason>"; the reason may itself contain '|'.
const stockAdjusted: Decoder = (cell, f) => {
  if (f.length < 5) throw bad('record', `expected 5 fields, got ${f.length}`);
  const sku = str(f[1], 'sku');
  return {
    aggregateId: `stock-${cell}-${sku}`,
    payload: {
      adjustId: str(f[0], 'adjustId'),
      sku,
      before: int(f[2], 'before'),
      after: int(f[3], 'after'),
      reason: str(f.slice(4).join('|'), 'reason'),
    },
  };
};

const DECODERS: Readonly<Record<string, Decoder>> = {
  'reservation.created': reservation(true),
  'reservation.committed': reservation(false),
  'reservation.released': reservation(false),
  'reservation.expired': reservation(false),
  'cart.reserved': cart,
  'cart.committed': cart,
  'cart.released': cart,
  'cart.expired': cart,
  'stock.adjusted': stockAdjusted,
};

/** Entry types that carry several events, each of `type`. */
const BATCH_DECODERS: Readonly<
  Record<string, { type: string; decode: (cell: number, f: string[]) => Decoded[] }>
> = {
  'reservations.created': { type: 'reservation.created', decode: reservationsCreated },
};

/** The event types the cell outbox carries. */
export const OUTBOX_EVENT_TYPES: readonly string[] = Object.keys(DECODERS);

/**
 * One stream entry (`[id, [field, value, ...]]` as XRANGE returns it) to its events (version 1): one, or one per
 * reservation of a purchase batch, in the entry's order.
 */
export function decodeOutboxEntry(
  cell: number,
  streamId: string,
  fields: readonly string[],
): EventEnvelope[] {
  if (fields.length !== 2) throw bad('entry', `expected one field, got ${fields.length / 2}`);
  const [kind, value] = fields as [string, string];
  const batch = BATCH_DECODERS[kind];
  const decode = DECODERS[kind];
  if (!batch && !decode)
    throw EventErrors.OUTBOX_RECORD_INVALID(`unknown outbox event type ${kind}`, { field: 'type' });
  const decoded = batch ? batch.decode(cell, value.split('|')) : [decode!(cell, value.split('|'))];
  const type = batch ? batch.type : kind;
  const occurredAt = new Date(Number(streamId.slice(0, streamId.indexOf('-'))));
  return decoded.map(({ aggregateId, payload }, i) =>
    createEvent({
      id: outboxEventId(cell, streamId, i),
      type,
      version: 1,
      aggregateId,
      cell,
      occurredAt,
      payload,
    }),
  );
}
