import assert from 'node:assert/strict';
import { test } from 'node:test';
import { within } from './within.ts';

const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));

test('within answers with the work when it settles first, and rejects with the message when time runs out', async () => {
  assert.equal(await within(later(5, 'done'), 1000, 'too slow'), 'done');
  await assert.rejects(within(later(1000, 'late'), 10, 'too slow'), /^Error: too slow$/);
  await assert.rejects(within(Promise.reject(new Error('refused')), 1000, 'too slow'), /refused/);
  // a late failure of abandoned work surfaces nowhere (no unhandled rejection)
  await assert.rejects(
    within(new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 20)), 5, 'too slow'),
    /too slow/,
  );
  await later(40, null);
});
