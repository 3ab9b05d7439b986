/**
 * The event envelope every bus message carries, its msgpackr encoding and its readable JSON form, and the
 * event ids: 128-bit, lowercase hex, time-ordered (48-bit ms timestamp first), so ids sort by creation time.
 * Ids of events relayed from a cell outbox are derived from the cell and the stream entry id, so a relay
 * that publishes an entry twice publishes the same id twice and idempotent consumers absorb the copy.
 */
import { randomBytes } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Packr } from 'msgpackr';
import { EventErrors } from './errors.ts';

export const EVENT_ID_PATTERN = '^[0-9a-f]{32}$';

export const EnvelopeSchema = Type.Object(
  {
    id: Type.String({ pattern: EVENT_ID_PATTERN }),
    type: Type.String({ pattern: '^[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)+$', maxLength: 100 }),
    version: Type.Integer({ minimum: 1, maximum: 1000 }),
    aggregateId: Type.String({ minLength: 1, maxLength: 200 }),
    /** The cell the event happened in, or null for events outside the cells (PostgreSQL services). */
    cell: Type.Union([Type.Integer({ minimum: 0, maximum: 0xffff }), Type.Null()]),
    /** ISO 8601 time the fact happened. */
    occurredAt: Type.String({ minLength: 20, maxLength: 40 }),
    /** W3C trace context of the request that caused it, when known. */
    traceparent: Type.Optional(Type.String({ maxLength: 128 })),
    payload: Type.Unknown(),
  },
  { additionalProperties: false },
);

export type EventEnvelope<P = unknown> = Omit<Static<typeof EnvelopeSchema>, 'payload'> & { payload: P };

const envelopeCheck = TypeCompiler.Compile(EnvelopeSchema);

let lastMs = 0;
let counter = 0;

/** A new event id: 12 hex of ms time, 4 hex of a per-ms counter (monotonic in this process), 16 random. */
export function newEventId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = randomBytes(2).readUInt16BE() & 0x7fff; // random start leaves room to count up within the ms
  } else if (++counter > 0xffff) {
    lastMs += 1; // more than the counter holds in one ms: borrow the next ms, staying monotonic
    counter = 0;
  }
  return hex(lastMs, 12) + hex(counter, 4) + randomBytes(8).toString('hex');
}

/** Events one outbox entry may carry (a batch entry: one per reservation of a purchase batch). */
export const OUTBOX_EVENTS_PER_ENTRY = 1024;

/**
 * The deterministic id of the `index`-th event of a cell outbox entry: ms of the stream id, the cell, then the
 * stream sequence times OUTBOX_EVENTS_PER_ENTRY plus the index, so ids are unique, stable across replays and
 * ordered as the stream and the entry order them.
 */
export function outboxEventId(cell: number, streamId: string, index = 0): string {
  const dash = streamId.indexOf('-');
  const ms = Number(streamId.slice(0, dash));
  const seq = BigInt(streamId.slice(dash + 1)) * BigInt(OUTBOX_EVENTS_PER_ENTRY) + BigInt(index);
  return hex(ms, 12) + hex(cell, 4) + seq.toString(16).padStart(16, '0');
}

/** The creation time (ms) encoded in an event id. */
export function eventIdTime(id: string): number {
  return Number.parseInt(id.slice(0, 12), 16);
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

export interface NewEvent<P = unknown> {
  type: string;
  version?: number;
  aggregateId: string;
  cell?: number | null;
  payload: P;
  traceparent?: string;
  occurredAt?: Date | string;
  id?: string;
}

/** Builds an envelope with a fresh id and the current time unless given. */
export function createEvent<P>(e: NewEvent<P>): EventEnvelope<P> {
  const occurredAt =
    e.occurredAt instanceof Date ? e.occurredAt.toISOString() : (e.occurredAt ?? new Date().toISOString());
  const out: EventEnvelope<P> = {
    id: e.id ?? newEventId(),
    type: e.type,
    version: e.version ?? 1,
    aggregateId: e.aggregateId,
    cell: e.cell ?? null,
    occurredAt,
    payload: e.payload,
  };
  if (e.traceparent) out.traceparent = e.traceparent;
  return out;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeEvent(event: EventEnvelope): Buffer {
  return packr.pack(event);
}

/** Decodes and checks the envelope's shape (not the payload: see catalogue.ts `validateEvent`). */
export function decodeEvent(bytes: Uint8Array): EventEnvelope {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    throw EventErrors.EVENT_DECODE_FAILED(`not msgpack: ${(err as Error).message}`);
  }
  return checkEnvelope(value);
}

export function checkEnvelope(value: unknown): EventEnvelope {
  if (!envelopeCheck.Check(value)) {
    const first = envelopeCheck.Errors(value).First();
    const field = first?.path || '/';
    throw EventErrors.EVENT_DECODE_FAILED(`envelope ${field}: ${first?.message ?? 'invalid'}`, { field });
  }
  return value as EventEnvelope;
}

/** The readable form for tooling (`titan events tail --json`, logs): one JSON line. */
export function eventToJson(event: EventEnvelope): string {
  return JSON.stringify(event, (_k, v) =>
    typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
  );
}
