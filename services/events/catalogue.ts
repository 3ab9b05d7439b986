/**
 * The event catalogue: every event type, its topic, and a versioned TypeBox payload schema (compiled once).
 * Add a type here (and to README.md) before publishing it; a new payload shape is a new version, never an
 * edit of an old one, so events already on the bus stay valid. `validateEvent` is what consumers run.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import type { EventEnvelope } from './envelope.ts';
import { EventErrors } from './errors.ts';

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
const Count = Type.Integer({ minimum: 0 });
const EpochMs = Type.Integer({ minimum: 0 });

export const ReservationCreatedV1 = Type.Object({
  saleId: Id,
  /** The public reservation id `<saleId>-<cell>-<local id>`, as the edge answers it. */
  reservationId: Type.String({ minLength: 1, maxLength: 160 }),
  userId: Id,
  qty: Type.Integer({ minimum: 1 }),
  expiresAt: EpochMs,
});
export const ReservationClosedV1 = Type.Object({
  saleId: Id,
  reservationId: Type.String({ minLength: 1, maxLength: 160 }),
  userId: Id,
  qty: Type.Integer({ minimum: 1 }),
});
export const CartHoldV1 = Type.Object({
  holdId: Id,
  /** R reserved, C committed, X released, E expired. */
  state: Type.Union([Type.Literal('R'), Type.Literal('C'), Type.Literal('X'), Type.Literal('E')]),
  expiresAt: EpochMs,
  items: Type.Array(Type.Object({ sku: Id, qty: Type.Integer({ minimum: 1 }) }), { minItems: 1 }),
});
export const StockAdjustedV1 = Type.Object({
  adjustId: Id,
  sku: Id,
  before: Count,
  after: Count,
  reason: Type.String({ minLength: 1, maxLength: 200 }),
});
export const UserRegisteredV1 = Type.Object({
  userId: Type.String({ minLength: 1, maxLength: 64 }),
  roles: Type.Array(Type.String({ maxLength: 32 })),
});
export const DeadLetterV1 = Type.Object({
  /** Where the message was consumed from, by which group, after how many attempts. */
  topic: Type.String(),
  group: Type.String(),
  key: Type.String(),
  attempts: Type.Integer({ minimum: 0 }),
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String()),
  }),
  originalId: Type.Optional(Type.String()),
  originalType: Type.Optional(Type.String()),
  /** The message exactly as consumed (base64 of its bytes), for replay. */
  original: Type.String(),
});

export type ReservationCreated = Static<typeof ReservationCreatedV1>;
export type ReservationClosed = Static<typeof ReservationClosedV1>;
export type CartHold = Static<typeof CartHoldV1>;
export type StockAdjusted = Static<typeof StockAdjustedV1>;
export type UserRegistered = Static<typeof UserRegisteredV1>;
export type DeadLetter = Static<typeof DeadLetterV1>;

export interface CatalogueEntry {
  topic: string;
  description: string;
  versions: Readonly<Record<number, TSchema>>;
}

export const DEAD_LETTER_TYPE = 'titan.dead-letter';

/** Every event type. Keep README.md's catalogue table in step (a test checks they match). */
export const EVENT_CATALOGUE: Readonly<Record<string, CatalogueEntry>> = {
  'reservation.created': {
    topic: 'titan.reservation',
    description: 'flash-sale-purchase.lua reserved units for a user (cell outbox)',
    versions: { 1: ReservationCreatedV1 },
  },
  'reservation.committed': {
    topic: 'titan.reservation',
    description: 'reservation-settle.lua commit: the order was confirmed, units sold (cell outbox)',
    versions: { 1: ReservationClosedV1 },
  },
  'reservation.released': {
    topic: 'titan.reservation',
    description:
      'reservation-settle.lua release: cancelled or payment failed, units back to the cell quota (cell outbox)',
    versions: { 1: ReservationClosedV1 },
  },
  'reservation.expired': {
    topic: 'titan.reservation',
    description: 'reservation-sweep.lua or a late commit: the reservation expired, units back (cell outbox)',
    versions: { 1: ReservationClosedV1 },
  },
  'cart.reserved': {
    topic: 'titan.cart',
    description: 'cart-reserve.lua held several SKUs of ordinary stock (cell outbox)',
    versions: { 1: CartHoldV1 },
  },
  'cart.committed': {
    topic: 'titan.cart',
    description: 'cart-settle.lua commit (cell outbox)',
    versions: { 1: CartHoldV1 },
  },
  'cart.released': {
    topic: 'titan.cart',
    description: 'cart-settle.lua release (cell outbox)',
    versions: { 1: CartHoldV1 },
  },
  'cart.expired': {
    topic: 'titan.cart',
    description: 'cart-sweep.lua or a late commit: the hold expired (cell outbox)',
    versions: { 1: CartHoldV1 },
  },
  'stock.adjusted': {
    topic: 'titan.stock',
    description: 'stock-adjust.lua restock or count correction, audit (cell outbox)',
    versions: { 1: StockAdjustedV1 },
  },
  'user.registered': {
    topic: 'titan.user',
    description: 'a user account was created (PostgreSQL outbox of the user service); no personal data',
    versions: { 1: UserRegisteredV1 },
  },
  [DEAD_LETTER_TYPE]: {
    topic: 'titan.dead-letter',
    description: 'a message a consumer group gave up on, with the error (published to `<topic>.dead-letter`)',
    versions: { 1: DeadLetterV1 },
  },
};

const checks = new Map<string, TypeCheck<TSchema>>();
for (const [type, entry] of Object.entries(EVENT_CATALOGUE)) {
  for (const [version, schema] of Object.entries(entry.versions)) {
    checks.set(`${type}@${version}`, TypeCompiler.Compile(schema));
  }
}

/** The topic an event type is published to. */
export function topicOf(type: string): string {
  const entry = EVENT_CATALOGUE[type];
  if (!entry) throw EventErrors.EVENT_UNKNOWN_TYPE(`unknown event type ${type}`, { field: 'type' });
  return entry.topic;
}

/** The dead-letter topic of a topic. */
export const deadLetterTopic = (topic: string): string => `${topic}.dead-letter`;

/**
 * Checks an envelope's payload against its type and version; throws EVENT_UNKNOWN_TYPE or EVENT_INVALID
 * with `details.field` the JSON pointer of the first bad field (`/payload/qty`).
 */
export function validateEvent(event: EventEnvelope): void {
  const check = checks.get(`${event.type}@${event.version}`);
  if (!check)
    throw EventErrors.EVENT_UNKNOWN_TYPE(`no schema for ${event.type} v${event.version}`, { field: '/type' });
  if (check.Check(event.payload)) return;
  const first = check.Errors(event.payload).First();
  const field = `/payload${first?.path ?? ''}`;
  throw EventErrors.EVENT_INVALID(
    `${event.type} v${event.version} ${field}: ${first?.message ?? 'invalid'}`,
    {
      field,
      type: event.type,
      version: event.version,
    },
  );
}
