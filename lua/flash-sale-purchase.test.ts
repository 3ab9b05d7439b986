import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isTitanError } from '../services/kit/errors.ts';
import { readSaleLedger } from './admin.ts';
import { saleCellKeys } from './keys.ts';
import { MAX_PURCHASE_BATCH, type PurchaseRequest, type TitanScripts } from './loader.ts';
import { connectScripts, outboxEvents, type SaleSetup, setupSale, snapshotTag, uid } from './test-support.ts';

let scripts: TitanScripts;
let redis: Redis;
before(async () => {
  scripts = await connectScripts();
  redis = scripts.redis as Redis;
});
after(async () => {
  await redis.quit();
});

const NOW = 1_500_000;
const req = (userId: string, idempotencyKey: string, quantity = 1, at?: number): PurchaseRequest =>
  at === undefined ? { userId, idempotencyKey, quantity } : { userId, idempotencyKey, quantity, at };
const buy = (sale: SaleSetup, requests: PurchaseRequest[], now = NOW) =>
  scripts.flashSalePurchase({ cell: sale.cell, saleId: sale.saleId, now, requests });

async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTitanError(err), `expected a TitanError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (field !== undefined) assert.equal(err.details?.['field'], field);
    return true;
  });
}

describe('flash-sale purchase', () => {
  test('a purchase in the window reserves stock, records reservation + expiry index, and appends one event', async () => {
    const sale = await setupSale(scripts, { initial: 10, quota: 5, perUserLimit: 3, ttlMs: 30_000 });
    const [r] = await buy(sale, [req('alice', 'k1', 2)]);
    assert.deepEqual(r, { status: 'reserved', reservationId: '1', expiresAt: NOW + 30_000 });
    const k = saleCellKeys(sale.cell, sale.saleId);
    assert.deepEqual(await redis.hmget(k.sale, 'q', 'r', 's'), ['3', '2', '0']);
    assert.equal(await redis.hget(k.reservations, '1'), `R|alice|2|${NOW + 30_000}`);
    assert.equal(await redis.zscore(k.expiry, '1'), String(NOW + 30_000));
    assert.equal(await redis.hget(k.users, 'alice'), '2');
    assert.deepEqual(await outboxEvents(redis, sale.cell), [
      { type: 'reservation.created', data: `${sale.saleId}|1|alice|2|${NOW + 30_000}` },
    ]);
    const ledger = await readSaleLedger(redis, sale.saleId, [sale.cell]);
    assert.equal(ledger.balanced, true);
    assert.equal(ledger.reserved, 2);
  });

  test('a replayed idempotency key returns the original answer as DUPLICATE, in one batch and across batches', async () => {
    const sale = await setupSale(scripts, { initial: 10, quota: 10, perUserLimit: 5 });
    const first = await buy(sale, [req('bob', 'same'), req('bob', 'same'), req('bob', 'other')]);
    const reserved = { status: 'reserved', reservationId: '1', expiresAt: NOW + 60_000 } as const;
    assert.deepEqual(first[0], reserved);
    assert.deepEqual(first[1], { status: 'duplicate', original: reserved });
    assert.equal(first[2]?.status, 'reserved');
    // a replay later (same request) answers the first result, and takes nothing
    const again = await buy(sale, [req('bob', 'same')], NOW + 10);
    assert.deepEqual(again, [{ status: 'duplicate', original: reserved }]);
    const k = saleCellKeys(sale.cell, sale.saleId);
    assert.deepEqual(await redis.hmget(k.sale, 'q', 'r'), ['8', '2']);
    assert.equal((await outboxEvents(redis, sale.cell)).length, 2);
    // one stream entry per batch that reserved, carrying each of its reservations
    const entries = (await redis.xrange(k.outbox, '-', '+')) as [string, string[]][];
    assert.deepEqual(
      entries.map(([, f]) => f),
      [['reservations.created', `${sale.saleId}|${NOW + 60_000}|1|bob|1|2|bob|1`]],
    );
  });

  test('the per-user limit counts units across requests and batches; a request over it is LIMIT_REACHED whole', async () => {
    const sale = await setupSale(scripts, { initial: 20, quota: 20, perUserLimit: 3 });
    const out = await buy(sale, [
      req('carol', 'a', 2),
      req('carol', 'b', 2),
      req('carol', 'c', 1),
      req('dave', 'd', 4),
    ]);
    assert.deepEqual(
      out.map((r) => r.status),
      ['reserved', 'limit_reached', 'reserved', 'limit_reached'],
    );
    assert.deepEqual(await buy(sale, [req('carol', 'e', 1)]), [{ status: 'limit_reached' }]);
    const k = saleCellKeys(sale.cell, sale.saleId);
    assert.equal(await redis.hget(k.users, 'carol'), '3');
    assert.equal(await redis.hget(k.users, 'dave'), null);
    assert.deepEqual(await redis.hmget(k.sale, 'q', 'r'), ['17', '3']);
  });

  test('SOLD_OUT when the cell quota cannot cover the whole quantity: nothing is taken', async () => {
    const sale = await setupSale(scripts, { initial: 10, quota: 3, perUserLimit: 5 });
    const out = await buy(sale, [req('u1', 'a', 2), req('u2', 'b', 2), req('u3', 'c', 1), req('u4', 'd', 1)]);
    assert.deepEqual(
      out.map((r) => r.status),
      ['reserved', 'sold_out', 'reserved', 'sold_out'],
    );
    const k = saleCellKeys(sale.cell, sale.saleId);
    assert.deepEqual(await redis.hmget(k.sale, 'q', 'r'), ['0', '3']);
    assert.equal(await redis.hget(k.users, 'u2'), null);
    assert.equal((await readSaleLedger(redis, sale.saleId, [sale.cell])).balanced, true);
  });

  test('the same key with another quantity is KEY_REUSED: a different request, refused, nothing written', async () => {
    const sale = await setupSale(scripts, { initial: 10, quota: 10, perUserLimit: 3 });
    const [first] = await buy(sale, [req('m', 'k', 1)]);
    assert.equal(first?.status, 'reserved');
    const tag = `{c${sale.cell}}`;
    const before = await snapshotTag(redis, tag);
    assert.deepEqual(await buy(sale, [req('m', 'k', 2)]), [{ status: 'key_reused' }]);
    assert.deepEqual(await snapshotTag(redis, tag), before);
    assert.deepEqual(await buy(sale, [req('m', 'k', 1)]), [{ status: 'duplicate', original: first }]);
  });

  test('SOLD_OUT is not remembered under its key: a retry with the same key buys once stock comes back', async () => {
    const sale = await setupSale(scripts, { initial: 1, quota: 1, perUserLimit: 1 });
    const [won] = await buy(sale, [req('w', 'k')]);
    assert.equal(won?.status, 'reserved');
    assert.deepEqual(await buy(sale, [req('l', 'k')]), [{ status: 'sold_out' }]);
    assert.deepEqual(
      await buy(sale, [req('l', 'k')]),
      [{ status: 'sold_out' }],
      'still sold out, not a replay',
    );
    const rid = won?.status === 'reserved' ? won.reservationId : '';
    assert.equal(
      await scripts.reservationRelease({
        cell: sale.cell,
        saleId: sale.saleId,
        reservationId: rid,
        now: NOW,
      }),
      'RELEASED',
    );
    const [retried] = await buy(sale, [req('l', 'k')]);
    assert.equal(retried?.status, 'reserved');
    assert.deepEqual(await buy(sale, [req('l', 'k')]), [{ status: 'duplicate', original: retried }]);
  });

  test('NOT_STARTED before startsAt and ENDED from endsAt on, judged by request time; nothing is written', async () => {
    const sale = await setupSale(scripts, { initial: 5, quota: 5, perUserLimit: 2 });
    const tag = `{c${sale.cell}}`;
    const before = await snapshotTag(redis, tag);
    const out = await buy(
      sale,
      [
        req('a', 'k1', 1, sale.startsAt - 1),
        req('a', 'k2', 1, sale.endsAt),
        req('a', 'k3', 1, sale.endsAt + 99),
      ],
      sale.startsAt + 5,
    );
    assert.deepEqual(out, [{ status: 'not_started' }, { status: 'ended' }, { status: 'ended' }]);
    assert.deepEqual(await snapshotTag(redis, tag), before);
    // the first and last instants of the window are inside it
    const edge = await buy(sale, [req('b', 'k1', 1, sale.startsAt), req('c', 'k1', 1, sale.endsAt - 1)]);
    assert.deepEqual(
      edge.map((r) => r.status),
      ['reserved', 'reserved'],
    );
  });

  test('reservation ids are unique across the sales of one cell', async () => {
    const a = await setupSale(scripts, { initial: 5, quota: 5, perUserLimit: 5 });
    const b = await setupSale(scripts, { initial: 5, quota: 5, perUserLimit: 5, cell: a.cell });
    const ids: string[] = [];
    for (const sale of [a, b, a, b]) {
      for (const r of await buy(sale, [req(uid('u'), uid('k')), req(uid('u'), uid('k'))])) {
        assert.equal(r.status, 'reserved');
        if (r.status === 'reserved') ids.push(r.reservationId);
      }
    }
    assert.equal(new Set(ids).size, 8);
  });

  test('invalid arguments are refused before Redis with LUA_BAD_ARGUMENT naming the field', async () => {
    const sale = await setupSale(scripts, { initial: 5, quota: 5, perUserLimit: 2 });
    const ok = { cell: sale.cell, saleId: sale.saleId, now: NOW, requests: [req('u', 'k')] };
    const tag = `{c${sale.cell}}`;
    const before = await snapshotTag(redis, tag);
    const cases: [Record<string, unknown>, string][] = [
      [{ cell: 'bad cell' }, 'cell'],
      [{ cell: '' }, 'cell'],
      [{ saleId: 'a|b' }, 'saleId'],
      [{ now: -1 }, 'now'],
      [{ now: 1.5 }, 'now'],
      [{ requests: [] }, 'requests'],
      [{ requests: [req('u:x', 'k')] }, 'requests[0].userId'],
      [{ requests: [req('u', 'k'), req('u', 'k', 0)] }, 'requests[1].quantity'],
      [{ requests: [req('u', 'k', 1_000_000)] }, 'requests[0].quantity'],
      [{ requests: [req('u', 'k', 1.5)] }, 'requests[0].quantity'],
      [{ requests: [req('u', '')] }, 'requests[0].idempotencyKey'],
      [{ requests: [req('u', 'has space')] }, 'requests[0].idempotencyKey'],
      [{ requests: [req('u', 'x'.repeat(129))] }, 'requests[0].idempotencyKey'],
      [{ requests: [req('u', 'k', 1, -5)] }, 'requests[0].at'],
    ];
    for (const [patch, field] of cases) {
      await rejects(scripts.flashSalePurchase({ ...ok, ...patch } as never), 'LUA_BAD_ARGUMENT', field);
    }
    assert.deepEqual(await snapshotTag(redis, tag), before);
  });

  test('the script validates every request before its first write: one bad request refuses the whole batch', async () => {
    const sale = await setupSale(scripts, { initial: 5, quota: 5, perUserLimit: 2 });
    const k = saleCellKeys(sale.cell, sale.saleId);
    const keys = [k.sale, k.users, k.reservations, k.expiry, k.outbox, k.seq];
    const good = ['u1', '1', 'k1', String(NOW), 'u2', '1', 'k2', String(NOW)];
    const tag = `{c${sale.cell}}`;
    const before = await snapshotTag(redis, tag);
    const cases: [(string | number)[], string][] = [
      [['', NOW, 2, ...good], 'saleId'],
      [[sale.saleId, 'soon', 2, ...good], 'now'],
      [[sale.saleId, NOW, 0], 'requests'],
      [[sale.saleId, NOW, 3, ...good], 'requests'],
      [[sale.saleId, NOW, 3, ...good, 'u|3', '1', 'k3', NOW], 'requests[2].userId'],
      [[sale.saleId, NOW, 3, ...good, 'u3', '0', 'k3', NOW], 'requests[2].quantity'],
      [[sale.saleId, NOW, 3, ...good, 'u3', '1e3', 'k3', NOW], 'requests[2].quantity'],
      [[sale.saleId, NOW, 3, ...good, 'u3', '1', 'a b', NOW], 'requests[2].idempotencyKey'],
      [[sale.saleId, NOW, 3, ...good, 'u3', '1', 'k3', 'x'], 'requests[2].at'],
    ];
    for (const [args, field] of cases) {
      await rejects(scripts.evalRaw('flash-sale-purchase', keys, args), 'LUA_BAD_ARGUMENT', field);
    }
    assert.deepEqual(await snapshotTag(redis, tag), before);
  });

  test(`a batch above MAX_PURCHASE_BATCH (${MAX_PURCHASE_BATCH}) is refused by TypeScript and by the script`, async () => {
    const sale = await setupSale(scripts, { initial: 500, quota: 500, perUserLimit: 1 });
    const requests = Array.from({ length: MAX_PURCHASE_BATCH + 1 }, (_, i) => req(`u${i}`, `k${i}`));
    const tag = `{c${sale.cell}}`;
    const before = await snapshotTag(redis, tag);
    await rejects(
      scripts.flashSalePurchase({ cell: sale.cell, saleId: sale.saleId, now: NOW, requests }),
      'LUA_BATCH_TOO_LARGE',
    );
    const k = saleCellKeys(sale.cell, sale.saleId);
    const args: (string | number)[] = [sale.saleId, NOW, requests.length];
    for (const r of requests) args.push(r.userId, r.quantity, r.idempotencyKey, NOW);
    await rejects(
      scripts.evalRaw(
        'flash-sale-purchase',
        [k.sale, k.users, k.reservations, k.expiry, k.outbox, k.seq],
        args,
      ),
      'LUA_BATCH_TOO_LARGE',
    );
    assert.deepEqual(await snapshotTag(redis, tag), before);
    const max = await buy(sale, requests.slice(0, MAX_PURCHASE_BATCH));
    assert.equal(max.filter((r) => r.status === 'reserved').length, MAX_PURCHASE_BATCH);
  });

  test('a sale not configured in the cell is LUA_NOT_FOUND and writes nothing', async () => {
    const cell = uid('c');
    await rejects(
      scripts.flashSalePurchase({ cell, saleId: uid('s'), now: NOW, requests: [req('u', 'k')] }),
      'LUA_NOT_FOUND',
    );
    assert.deepEqual(await snapshotTag(redis, `{c${cell}}`), {});
  });
});
