// The catalogue: payload validation naming the field, unknown types, and README.md listing every type.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { EVENT_CATALOGUE, topicOf, validateEvent } from './catalogue.ts';
import { createEvent } from './envelope.ts';
import { EventErrors } from './errors.ts';

const created = (payload: Record<string, unknown>) =>
  createEvent({ type: 'reservation.created', aggregateId: 's-1-1', cell: 1, payload });

test('a valid payload passes; an invalid one is refused naming the field', () => {
  const ok = { saleId: 's', reservationId: 's-1-1', userId: 'u', qty: 1, expiresAt: 5 };
  validateEvent(created(ok));
  for (const [payload, field] of [
    [{ ...ok, qty: 0 }, '/payload/qty'],
    [{ ...ok, userId: undefined }, '/payload/userId'],
    [{ ...ok, saleId: 'bad id!' }, '/payload/saleId'],
  ] as const) {
    assert.throws(
      () => validateEvent(created(payload)),
      (err: unknown) =>
        EventErrors.EVENT_INVALID.is(err) && err.details?.field === field && err.message.includes(field),
    );
  }
});

test('an unknown type or version is refused', () => {
  const e = created({});
  assert.throws(() => validateEvent({ ...e, type: 'nope.never' }), EventErrors.EVENT_UNKNOWN_TYPE.is);
  assert.throws(() => validateEvent({ ...e, version: 99 }), EventErrors.EVENT_UNKNOWN_TYPE.is);
  assert.throws(() => topicOf('nope.never'), EventErrors.EVENT_UNKNOWN_TYPE.is);
  assert.equal(topicOf('reservation.expired'), 'titan.reservation');
});

test('README.md documents every event type of the catalogue, and no other', () => {
  const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
  const documented = [...readme.matchAll(/^\| `([a-z][a-z0-9.-]+)` \| (\d+) \|/gm)].map(
    (m) => `${m[1]}@${m[2]}`,
  );
  const catalogued = Object.entries(EVENT_CATALOGUE).flatMap(([type, e]) =>
    Object.keys(e.versions).map((v) => `${type}@${v}`),
  );
  assert.deepEqual(documented.sort(), catalogued.sort());
});
