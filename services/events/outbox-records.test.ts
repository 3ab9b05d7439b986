// The Lua scripts' outbox records decode into valid envelopes: produced by the real scripts on the test Redis.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { outboxKey } from '../../lua/keys.ts';
import { connectScripts, setupSale, uid } from '../../lua/test-support.ts';
import { validateEvent } from './catalogue.ts';
import { outboxEventId } from './envelope.ts';
import { EventErrors } from './errors.ts';
import { decodeOutboxEntry } from './outbox-records.ts';

const scriptsP = connectScripts();
after(async () => (await scriptsP).redis.disconnect());

test('reservation, cart and stock events written by the Lua scripts decode and validate', async () => {
  const scripts = await scriptsP;
  const cell = 1000 + Math.floor(Math.random() * 60_000);
  const sale = await setupSale(scripts, { initial: 10, quota: 10, perUserLimit: 5, cell: String(cell) });
  const now = sale.startsAt + 1;
  const [a, b] = await scripts.flashSalePurchase({
    cell: sale.cell,
    saleId: sale.saleId,
    now,
    requests: [
      { userId: 'ua', quantity: 2, idempotencyKey: 'k1' },
      { userId: 'ub', quantity: 1, idempotencyKey: 'k2' },
    ],
  });
  assert.ok(a?.status === 'reserved' && b?.status === 'reserved');
  await scripts.reservationCommit({
    cell: sale.cell,
    saleId: sale.saleId,
    reservationId: a.reservationId,
    now,
  });
  await scripts.reservationRelease({
    cell: sale.cell,
    saleId: sale.saleId,
    reservationId: b.reservationId,
    now,
  });
  await scripts.stockAdjust({
    cell: sale.cell,
    adjustId: uid('a'),
    sku: 'SKU-1',
    mode: 'set',
    value: 5,
    reason: 'count | recount',
    now,
  });
  const hold = uid('h');
  await scripts.cartReserve({
    cell: sale.cell,
    holdId: hold,
    now,
    ttlMs: 1000,
    items: [{ sku: 'SKU-1', quantity: 2 }],
  });
  await scripts.cartCommit({ cell: sale.cell, holdId: hold, now });

  const entries = (await scripts.redis.xrange(outboxKey(sale.cell), '-', '+')) as [string, string[]][];
  const events = entries.flatMap(([id, fields]) => decodeOutboxEntry(cell, id, fields));
  for (const e of events) validateEvent(e);
  assert.deepEqual(
    events.map((e) => e.type),
    [
      'reservation.created',
      'reservation.created',
      'reservation.committed',
      'reservation.released',
      'stock.adjusted',
      'cart.reserved',
      'cart.committed',
    ],
  );
  const ridA = `${sale.saleId}-${cell}-${a.reservationId}`;
  assert.deepEqual(events[0]!.payload, {
    saleId: sale.saleId,
    reservationId: ridA,
    userId: 'ua',
    qty: 2,
    expiresAt: a.expiresAt,
  });
  assert.deepEqual(events[2]!.payload, { saleId: sale.saleId, reservationId: ridA, userId: 'ua', qty: 2 });
  assert.equal(events[0]!.aggregateId, ridA);
  assert.equal(events[2]!.aggregateId, ridA, 'created and committed share the aggregate (partition key)');
  assert.equal(events[0]!.id, outboxEventId(cell, entries[0]![0]));
  assert.equal(events[0]!.cell, cell);
  assert.equal(new Date(events[0]!.occurredAt).getTime(), Number(entries[0]![0].split('-')[0]));
  assert.equal((events[4]!.payload as { reason: string }).reason, 'count | recount');
  assert.deepEqual((events[6]!.payload as { state: string; items: unknown }).items, [
    { sku: 'SKU-1', qty: 2 },
  ]);
  assert.equal((events[6]!.payload as { state: string }).state, 'C');
});

test('a malformed outbox entry is refused naming the field', () => {
  const isInvalid = (field: string) => (err: unknown) =>
    EventErrors.OUTBOX_RECORD_INVALID.is(err) && err.details?.field === field;
  assert.throws(
    () => decodeOutboxEntry(1, '1-1', ['reservation.created', 's|x|u|1|5']),
    isInvalid('reservationId'),
  );
  assert.throws(() => decodeOutboxEntry(1, '1-1', ['reservation.committed', 's|1|u']), isInvalid('record'));
  assert.throws(() => decodeOutboxEntry(1, '1-1', ['order.placed', 'x']), isInvalid('type'));
  assert.throws(() => decodeOutboxEntry(1, '1-1', ['reservations.created', 's|5|1|u']), isInvalid('record'));
  assert.throws(() => decodeOutboxEntry(1, '1-1', ['reservations.created', 's|5|1|u|x']), isInvalid('qty'));
});

test('a purchase batch entry becomes one reservation.created event per reservation, ids in entry order', () => {
  const events = decodeOutboxEntry(7, '1700000000000-3', [
    'reservations.created',
    'fs1|99|4|ua|2|5|ub|1|6|ua|1',
  ]);
  assert.deepEqual(
    events.map((e) => [e.type, e.aggregateId, e.payload]),
    [
      [
        'reservation.created',
        'fs1-7-4',
        { saleId: 'fs1', reservationId: 'fs1-7-4', userId: 'ua', qty: 2, expiresAt: 99 },
      ],
      [
        'reservation.created',
        'fs1-7-5',
        { saleId: 'fs1', reservationId: 'fs1-7-5', userId: 'ub', qty: 1, expiresAt: 99 },
      ],
      [
        'reservation.created',
        'fs1-7-6',
        { saleId: 'fs1', reservationId: 'fs1-7-6', userId: 'ua', qty: 1, expiresAt: 99 },
      ],
    ],
  );
  assert.deepEqual(
    events.map((e) => e.id),
    [0, 1, 2].map((i) => outboxEventId(7, '1700000000000-3', i)),
  );
  assert.equal(new Set(events.map((e) => e.id)).size, 3);
  assert.ok(events.every((e) => e.occurredAt === new Date(1700000000000).toISOString()));
  // decoding twice gives the same events: a relay that republishes after a crash sends the same ids
  assert.deepEqual(
    decodeOutboxEntry(7, '1700000000000-3', ['reservations.created', 'fs1|99|4|ua|2|5|ub|1|6|ua|1']),
    events,
  );
});
