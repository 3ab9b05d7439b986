// Envelopes: sortable unique ids, deterministic outbox ids, msgpack round trip, shape checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createEvent,
  decodeEvent,
  encodeEvent,
  eventIdTime,
  eventToJson,
  newEventId,
  outboxEventId,
} from './envelope.ts';
import { EventErrors } from './errors.ts';

test('new event ids are unique and sort in creation order, even within one millisecond', () => {
  const ids = Array.from({ length: 5000 }, () => newEventId());
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  assert.ok(Math.abs(eventIdTime(ids[0]!) - Date.now()) < 5000);
  assert.match(ids[0]!, /^[0-9a-f]{32}$/);
});

test('an outbox event id is a function of the cell and the stream id, ordered like the stream', () => {
  assert.equal(outboxEventId(3, '1700000000000-5'), outboxEventId(3, '1700000000000-5'));
  assert.notEqual(outboxEventId(3, '1700000000000-5'), outboxEventId(4, '1700000000000-5'));
  assert.ok(outboxEventId(3, '1700000000000-5') < outboxEventId(3, '1700000000000-6'));
  assert.ok(outboxEventId(3, '1700000000000-99') < outboxEventId(3, '1700000000001-0'));
  assert.equal(eventIdTime(outboxEventId(3, '1700000000000-5')), 1700000000000);
  // the events of one entry (a purchase batch) follow each other, before the next entry's
  assert.ok(outboxEventId(3, '1700000000000-5', 0) < outboxEventId(3, '1700000000000-5', 1));
  assert.ok(outboxEventId(3, '1700000000000-5', 1023) < outboxEventId(3, '1700000000000-6', 0));
  assert.equal(outboxEventId(3, '1700000000000-5'), outboxEventId(3, '1700000000000-5', 0));
});

test('an envelope survives the msgpack round trip and has a readable JSON form', () => {
  const e = createEvent({
    type: 'user.registered',
    aggregateId: 'u1',
    payload: { userId: 'u1', roles: ['buyer'] },
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  });
  assert.deepEqual(decodeEvent(encodeEvent(e)), e);
  assert.deepEqual(JSON.parse(eventToJson(e)), e);
  assert.equal(e.cell, null);
});

test('bytes that are not an envelope are refused naming what is wrong', () => {
  assert.throws(() => decodeEvent(Buffer.from([0xc1])), EventErrors.EVENT_DECODE_FAILED.is);
  const e = createEvent({ type: 'user.registered', aggregateId: 'u1', payload: {} });
  const bad = encodeEvent({ ...e, id: 'nope' });
  assert.throws(
    () => decodeEvent(bad),
    (err: unknown) => EventErrors.EVENT_DECODE_FAILED.is(err) && err.details?.field === '/id',
  );
});
