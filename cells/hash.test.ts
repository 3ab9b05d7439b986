import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc16, crc16Bytes, slotOf, slotOfNumber } from './hash.ts';
import { SLOT_COUNT } from './schema.ts';

test('crc16 is CRC16-XMODEM: the standard check value of "123456789" is 0x31C3', () => {
  assert.equal(crc16('123456789'), 0x31c3);
});

test('slotOf matches Redis Cluster CLUSTER KEYSLOT for keys without hash tags', () => {
  // Values from the Redis documentation of CLUSTER KEYSLOT.
  assert.equal(slotOf('somekey'), 11058);
  assert.equal(slotOf('foo'), 12182);
  assert.equal(slotOf('hello'), 866);
});

test('slotOf golden values never change: changing them would move users between cells', () => {
  const golden: Record<string, number> = {
    '': 0,
    '42': 8000,
    'user:1000': 1649,
    'u-00000001': 4774,
    héllo: 11061,
    '😀': 2959,
    '550e8400-e29b-41d4-a716-446655440000': 8710,
    '\ud800': 13381,
  };
  for (const [id, slot] of Object.entries(golden))
    assert.equal(slotOf(id), slot, `slot of ${JSON.stringify(id)}`);
});

test('the string path hashes exactly the UTF-8 bytes, including astral and lone surrogates', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      assert.equal(crc16(s), crc16Bytes(Buffer.from(s, 'utf8')));
    }),
    { numRuns: 2000 },
  );
  assert.equal(crc16('\ud800x'), crc16Bytes(Buffer.from('\ufffdx', 'utf8')));
});

test('slotOfNumber gives the same slot as slotOf(String(id)) for every number', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), (n) => {
      assert.equal(slotOfNumber(n), slotOf(String(n)));
    }),
    { numRuns: 5000 },
  );
  const edges = [
    0,
    9,
    10,
    9999,
    10_000,
    99_999_999,
    1e8,
    1e8 + 1,
    1e12 - 1,
    1e12,
    1e15,
    Number.MAX_SAFE_INTEGER,
  ];
  for (const n of [...edges, -5, 1.5, 2 ** 60, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.equal(slotOfNumber(n), slotOf(String(n)), `number ${n}`);
  }
});

test('slots are in range and spread evenly over sequential ids', () => {
  const buckets = new Array<number>(64).fill(0);
  const users = 128_000;
  for (let i = 0; i < users; i++) {
    const slot = slotOf(`user-${i}`);
    assert.ok(slot >= 0 && slot < SLOT_COUNT);
    buckets[slot >> 8]!++;
  }
  const mean = users / 64;
  for (const b of buckets) assert.ok(Math.abs(b - mean) / mean < 0.1, `bucket ${b} vs mean ${mean}`);
});
