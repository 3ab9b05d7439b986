/**
 * Decodes the entries the Lua scripts append to a cell's outbox stream (`{c<cell>}:outbox`: one field per
 * entry, its name the event type, its value a `|`-delimited record; see the script headers) into envelopes.
 * The event id is derived from the cell and the stream id, and `occurredAt` is the stream id's time (the
 * moment the script ran), so decoding the same entry twice gives the same event.
 */
import { createEvent, type EventEnvelope, outboxEventId } from './envelope.ts';
import { EventErrors } from './errors.ts';

type Decoder = (cell: number, fields: string[]) => { aggregateId: string; payload: Record<string, unknown> };

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

/** The event types the cell outbox carries. */
export const OUTBOX_EVENT_TYPES: readonly string[] = Object.keys(DECODERS);

/** One stream entry (`[id, [field, value, ...]]` as XRANGE returns it) to its envelope (version 1). */
export function decodeOutboxEntry(cell: number, streamId: string, fields: readonly string[]): EventEnvelope {
  if (fields.length !== 2) throw bad('entry', `expected one field, got ${fields.length / 2}`);
  const [type, value] = fields as [string, string];
  const decode = DECODERS[type];
  if (!decode)
    throw EventErrors.OUTBOX_RECORD_INVALID(`unknown outbox event type ${type}`, { field: 'type' });
  const { aggregateId, payload } = decode(cell, value.split('|'));
  return createEvent({
    id: outboxEventId(cell, streamId),
    type,
    version: 1,
    aggregateId,
    cell,
    occurredAt: new Date(Number(streamId.slice(0, streamId.indexOf('-')))),
    payload,
  });
}
