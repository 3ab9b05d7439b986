import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isTitanError } from '../services/kit/errors.ts';
import { configureSaleCell, createSale, readSaleLedger } from './admin.ts';
import { saleCellKeys, salePoolKeys } from './keys.ts';
import type { TitanScripts } from './loader.ts';
import { recoverTransfers, transferQuota } from './quota-transfer.ts';
import { connectScripts, snapshotTag, uid } from './test-support.ts';

let scripts: TitanScripts;
let redis: Redis;
before(async () => {
  scripts = await connectScripts();
  redis = scripts.redis as Redis;
});
after(async () => {
  await redis.quit();
});

const NOW = 9_000_000;

/** A sale with `initial` units in its pool, open in two fresh cells with no quota yet. */
async function sale(initial: number): Promise<{ saleId: string; a: string; b: string }> {
  const saleId = uid('s');
  const a = uid('c');
  const b = uid('c');
  assert.equal(await createSale(redis, { saleId, initial }), 'CREATED');
  for (const cell of [a, b]) {
    await configureSaleCell(redis, {
      cell,
      saleId,
      startsAt: 0,
      endsAt: 1e13,
      perUserLimit: 1,
      reservationTtlMs: 1000,
    });
  }
  return { saleId, a, b };
}
async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) =>
      isTitanError(err) && err.code === code && (field === undefined || err.details?.['field'] === field),
  );
}

describe('quota transfer', () => {
  test('pool -> cell and cell -> pool transfers move units and keep the sale balanced', async () => {
    const s = await sale(100);
    const base = { saleId: s.saleId, now: NOW };
    assert.deepEqual(
      await transferQuota(scripts, {
        ...base,
        transferId: 't1',
        amount: 30,
        from: 'pool',
        to: { cell: s.a },
      }),
      {
        status: 'DONE',
      },
    );
    assert.deepEqual(
      await transferQuota(scripts, {
        ...base,
        transferId: 't2',
        amount: 20,
        from: 'pool',
        to: { cell: s.b },
      }),
      {
        status: 'DONE',
      },
    );
    assert.deepEqual(
      await transferQuota(scripts, { ...base, transferId: 't3', amount: 5, from: { cell: s.a }, to: 'pool' }),
      {
        status: 'DONE',
      },
    );
    const l = await readSaleLedger(redis, s.saleId, [s.a, s.b]);
    assert.equal(l.pool, 55);
    assert.equal(l.cells[s.a]?.quota, 25);
    assert.equal(l.cells[s.b]?.quota, 20);
    assert.equal(l.inFlight, 0);
    assert.equal(l.balanced, true);
    assert.equal(await redis.zcard(salePoolKeys(s.saleId).transferPending), 0);
    assert.match((await redis.hget(salePoolKeys(s.saleId).transferOut, 't1')) ?? '', /^d\|30\|c:/);
  });

  test('a retried transfer id applies once', async () => {
    const s = await sale(100);
    const t = {
      saleId: s.saleId,
      transferId: 'again',
      amount: 10,
      from: 'pool' as const,
      to: { cell: s.a },
      now: NOW,
    };
    for (let i = 0; i < 3; i++) assert.deepEqual(await transferQuota(scripts, t), { status: 'DONE' });
    assert.deepEqual(await scripts.quotaDebit(t), { status: 'EXISTS', state: 'DONE' });
    assert.equal(await scripts.quotaCredit(t), 'ALREADY_CREDITED');
    const l = await readSaleLedger(redis, s.saleId, [s.a]);
    assert.equal(l.pool, 90);
    assert.equal(l.cells[s.a]?.quota, 10);
  });

  test('a source without enough units is INSUFFICIENT and nothing is written on either side', async () => {
    const s = await sale(10);
    const snaps = [await snapshotTag(redis, `{fs:${s.saleId}}`), await snapshotTag(redis, `{c${s.a}}`)];
    assert.deepEqual(
      await transferQuota(scripts, {
        saleId: s.saleId,
        transferId: 'big',
        amount: 11,
        from: 'pool',
        to: { cell: s.a },
        now: NOW,
      }),
      { status: 'INSUFFICIENT', available: 10 },
    );
    assert.deepEqual(
      [await snapshotTag(redis, `{fs:${s.saleId}}`), await snapshotTag(redis, `{c${s.a}}`)],
      snaps,
    );
  });

  test('a transfer id reused with a different amount or destination is LUA_CONFLICT', async () => {
    const s = await sale(50);
    const t = {
      saleId: s.saleId,
      transferId: 'dup',
      amount: 10,
      from: 'pool' as const,
      to: { cell: s.a },
      now: NOW,
    };
    await transferQuota(scripts, t);
    const snap = await snapshotTag(redis, `{fs:${s.saleId}}`);
    await rejects(transferQuota(scripts, { ...t, amount: 11 }), 'LUA_CONFLICT', 'transferId');
    await rejects(transferQuota(scripts, { ...t, to: { cell: s.b } }), 'LUA_CONFLICT', 'transferId');
    assert.deepEqual(await snapshotTag(redis, `{fs:${s.saleId}}`), snap);
  });

  test('a crash between debit and credit is finished by recovery; the units are in flight until then', async () => {
    const s = await sale(100);
    const t = {
      saleId: s.saleId,
      transferId: 'crash1',
      amount: 40,
      from: 'pool' as const,
      to: { cell: s.a },
      now: NOW,
    };
    assert.deepEqual(await scripts.quotaDebit(t), { status: 'DEBITED' });
    // the mover dies here
    let l = await readSaleLedger(redis, s.saleId, [s.a]);
    assert.deepEqual([l.pool, l.cells[s.a]?.quota, l.inFlight, l.balanced], [60, 0, 40, true]);
    // a young pending entry is left to its mover
    assert.deepEqual(
      await recoverTransfers(scripts, { saleId: s.saleId, cells: [s.a], now: NOW + 10, minAgeMs: 5000 }),
      [],
    );
    const rec = await recoverTransfers(scripts, {
      saleId: s.saleId,
      cells: [s.a],
      now: NOW + 5000,
      minAgeMs: 5000,
    });
    assert.deepEqual(rec, [{ transferId: 'crash1', from: 'pool', status: 'DONE' }]);
    l = await readSaleLedger(redis, s.saleId, [s.a]);
    assert.deepEqual([l.pool, l.cells[s.a]?.quota, l.inFlight, l.balanced], [60, 40, 0, true]);
    // the mover wakes up and retries: nothing more happens
    assert.deepEqual(await transferQuota(scripts, t), { status: 'DONE' });
    assert.equal((await readSaleLedger(redis, s.saleId, [s.a])).cells[s.a]?.quota, 40);
  });

  test('a crash between credit and settle is closed by recovery without crediting twice', async () => {
    const s = await sale(100);
    const t = {
      saleId: s.saleId,
      transferId: 'crash2',
      amount: 15,
      from: { cell: s.a },
      to: 'pool' as const,
      now: NOW,
    };
    await transferQuota(scripts, { ...t, transferId: 'fill', from: 'pool', to: { cell: s.a } });
    await scripts.quotaDebit(t);
    assert.equal(await scripts.quotaCredit(t), 'CREDITED');
    assert.equal((await readSaleLedger(redis, s.saleId, [s.a])).inFlight, 0);
    const rec = await recoverTransfers(scripts, { saleId: s.saleId, cells: [s.a], now: NOW, minAgeMs: 0 });
    assert.deepEqual(rec, [{ transferId: 'crash2', from: { cell: s.a }, status: 'DONE' }]);
    const l = await readSaleLedger(redis, s.saleId, [s.a]);
    assert.deepEqual([l.pool, l.cells[s.a]?.quota, l.balanced], [100, 0, true]);
    assert.equal(await redis.zcard(saleCellKeys(s.a, s.saleId).transferPending), 0);
  });

  test('a destination that cannot take the units gets the transfer undone; a late credit is refused', async () => {
    const s = await sale(100);
    const ghost = uid('c'); // the sale is not configured in this cell
    assert.deepEqual(
      await transferQuota(scripts, {
        saleId: s.saleId,
        transferId: 'u1',
        amount: 10,
        from: 'pool',
        to: { cell: ghost },
        now: NOW,
      }),
      { status: 'UNDONE' },
    );
    // crash variant: debit, the mover dies, recovery undoes it, then the mover's delayed credit arrives
    const t = {
      saleId: s.saleId,
      transferId: 'u2',
      amount: 10,
      from: 'pool' as const,
      to: { cell: ghost },
      now: NOW,
    };
    await scripts.quotaDebit(t);
    assert.equal((await readSaleLedger(redis, s.saleId, [])).inFlight, 10);
    const rec = await recoverTransfers(scripts, { saleId: s.saleId, cells: [], now: NOW, minAgeMs: 0 });
    assert.deepEqual(rec, [{ transferId: 'u2', from: 'pool', status: 'UNDONE' }]);
    await configureSaleCell(redis, {
      cell: ghost,
      saleId: s.saleId,
      startsAt: 0,
      endsAt: 1e13,
      perUserLimit: 1,
      reservationTtlMs: 1,
    });
    assert.equal(await scripts.quotaCredit(t), 'ABORTED');
    assert.deepEqual(await transferQuota(scripts, t), { status: 'UNDONE' });
    const l = await readSaleLedger(redis, s.saleId, [ghost]);
    assert.deepEqual([l.pool, l.cells[ghost]?.quota, l.inFlight, l.balanced], [100, 0, 0, true]);
  });

  test('abort after a credit reports CREDITED, so recovery finishes instead of refunding', async () => {
    const s = await sale(20);
    const t = {
      saleId: s.saleId,
      transferId: 'race',
      amount: 5,
      from: 'pool' as const,
      to: { cell: s.a },
      now: NOW,
    };
    await scripts.quotaDebit(t);
    await scripts.quotaCredit(t);
    assert.equal(await scripts.quotaAbort(t), 'CREDITED');
    assert.equal(await scripts.quotaSettle({ ...t, outcome: 'done' }), 'DONE');
    assert.equal(await scripts.quotaSettle({ ...t, outcome: 'undo' }), 'DONE');
    assert.equal((await readSaleLedger(redis, s.saleId, [s.a])).balanced, true);
    assert.equal((await readSaleLedger(redis, s.saleId, [s.a])).pool, 15);
  });

  test('bad arguments are refused by TypeScript and by the scripts, writing nothing', async () => {
    const s = await sale(20);
    const snap = await snapshotTag(redis, `{fs:${s.saleId}}`);
    const t = {
      saleId: s.saleId,
      transferId: 'b',
      amount: 5,
      from: 'pool' as const,
      to: { cell: s.a },
      now: NOW,
    };
    await rejects(scripts.quotaDebit({ ...t, to: 'pool' }), 'LUA_BAD_ARGUMENT', 'to');
    await rejects(scripts.quotaDebit({ ...t, amount: 0 }), 'LUA_BAD_ARGUMENT', 'amount');
    await rejects(scripts.quotaDebit({ ...t, transferId: 'a b' }), 'LUA_BAD_ARGUMENT', 'transferId');
    await rejects(scripts.quotaDebit({ ...t, to: { cell: 'a.b' } }), 'LUA_BAD_ARGUMENT', 'to.cell');
    await rejects(scripts.quotaDebit({ ...t, from: 'bank' as never }), 'LUA_BAD_ARGUMENT', 'from');
    await rejects(scripts.quotaSettle({ ...t, outcome: 'maybe' as never }), 'LUA_BAD_ARGUMENT', 'outcome');
    await rejects(
      recoverTransfers(scripts, { saleId: s.saleId, cells: ['{x}'], now: NOW, minAgeMs: 0 }),
      'LUA_BAD_ARGUMENT',
      'cells[]',
    );
    const p = salePoolKeys(s.saleId);
    const debitKeys = [p.pool, p.transferOut, p.transferPending];
    const raw: [Parameters<TitanScripts['evalRaw']>[0], string[], (string | number)[], string][] = [
      ['quota-debit', debitKeys, ['r', 'x', 5, `c:${s.a}`, NOW], 'field'],
      ['quota-debit', debitKeys, ['pool', 'x', 0, `c:${s.a}`, NOW], 'amount'],
      ['quota-debit', debitKeys, ['pool', 'x', '5.5', `c:${s.a}`, NOW], 'amount'],
      ['quota-debit', debitKeys, ['pool', 'x', 5, 'cell7', NOW], 'dest'],
      ['quota-debit', debitKeys, ['pool', '', 5, `c:${s.a}`, NOW], 'transferId'],
      ['quota-debit', debitKeys, ['pool', 'x', 5, `c:${s.a}`, 'now'], 'now'],
      ['quota-credit', [p.pool, p.transferIn], ['pool', 'x', -5], 'amount'],
      ['quota-credit', [p.pool, p.transferIn], ['q', 'x|y', 5], 'transferId'],
      ['quota-abort', [p.transferIn], [''], 'transferId'],
      ['quota-settle', debitKeys, ['pool', 'x', 'finish'], 'outcome'],
    ];
    for (const [name, keys, args, field] of raw)
      await rejects(scripts.evalRaw(name, keys, args), 'LUA_BAD_ARGUMENT', field);
    await rejects(
      scripts.evalRaw('quota-settle', debitKeys, ['pool', 'never', 'done']),
      'LUA_NOT_FOUND',
      'transferId',
    );
    const missing = salePoolKeys(uid('s'));
    await rejects(
      scripts.evalRaw(
        'quota-debit',
        [missing.pool, missing.transferOut, missing.transferPending],
        ['pool', 'x', 1, 'pool', NOW],
      ),
      'LUA_NOT_FOUND',
      'source',
    );
    assert.deepEqual(await snapshotTag(redis, `{fs:${s.saleId}}`), snap);
  });
});
