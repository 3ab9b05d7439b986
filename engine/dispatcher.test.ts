/** The dispatcher alone, with an in-process sink: coalescing, size cap, max wait, BUSY, failures, routing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { packMessage, REPLY_HEADER, STRIDE, TASK_HEADER, unpackMessage } from './codec.ts';
import { type BatchCodec, type BatchSink, Dispatcher } from './dispatcher.ts';
import { EngineErrors } from './errors.ts';
import { busy, retry } from './outcomes.ts';

type Out = { status: string; value?: unknown };
const codec: BatchCodec<Out> = {
  decode: (payload, i) => ({ status: 'ok', value: payload[i] }),
  refused: (code, message) => new Error(`${code} ${message}`),
  busy: (ms) => busy(ms),
  retry: (reason, ms) => retry(reason, ms),
};

/** Echoes each request's first field back; records every task's size. */
function echoSink(
  opts: { slots?: number; fail?: Error } = {},
): BatchSink & { sizes: number[]; keys: string[] } {
  let free = opts.slots ?? Number.POSITIVE_INFINITY;
  const sizes: number[] = [];
  const keys: string[] = [];
  return {
    sizes,
    keys,
    tryReserve: () => {
      if (free <= 0) return false;
      free--;
      return true;
    },
    retryAfterMs: () => 7,
    async run(task) {
      const m = unpackMessage(task);
      const n = m[2] as number;
      sizes.push(n);
      keys.push(m[0] as string);
      await turn();
      free++;
      if (opts.fail) throw opts.fail;
      const entries: unknown[] = [];
      for (let i = 0; i < n; i++) entries.push(m[TASK_HEADER + i * STRIDE]);
      return packMessage([0, 0, 0, 1, entries]);
    },
  };
}

describe('dispatcher', () => {
  it('coalesces one turn into tasks of at most the hard maximum, per key, and routes each result home', async () => {
    const sink = echoSink();
    const d = new Dispatcher(sink, codec, { batchMaxSize: 1000, batchMaxWaitMicros: 0 }, { hardMax: 48 });
    const calls = Array.from({ length: 200 }, (_, i) => d.submit(i % 2 ? 'a' : 'b', `r${i}`, 1, 'k', 0));
    const out = await Promise.all(calls);
    for (const [i, o] of out.entries()) assert.deepEqual(o, { status: 'ok', value: `r${i}` });
    assert.deepEqual(
      sink.sizes.sort((x, y) => y - x),
      [48, 48, 4, 48, 48, 4].sort((x, y) => y - x),
    );
    assert.deepEqual(new Set(sink.keys), new Set(['a', 'b']));
  });

  it('waits up to batchMaxWaitMicros for more requests, across turns', async () => {
    const sink = echoSink();
    const d = new Dispatcher(sink, codec, { batchMaxSize: 48, batchMaxWaitMicros: 30_000 }, { hardMax: 48 });
    const first = d.submit('s', 'x', 1, 'k', 0);
    await turn();
    await turn();
    const second = d.submit('s', 'y', 1, 'k', 0);
    assert.equal(d.pendingRequests, 2);
    assert.deepEqual(await Promise.all([first, second]), [
      { status: 'ok', value: 'x' },
      { status: 'ok', value: 'y' },
    ]);
    assert.deepEqual(sink.sizes, [2]);
  });

  it('answers BUSY at once when no task slot is free; joining an open batch needs none', async () => {
    const sink = echoSink({ slots: 1 });
    const d = new Dispatcher(sink, codec, { batchMaxSize: 2, batchMaxWaitMicros: 0 }, { hardMax: 48 });
    const a = d.submit('s', 'a', 1, 'k', 0);
    const b = d.submit('s', 'b', 1, 'k', 0); // fills and sends the batch
    const c = await d.submit('s', 'c', 1, 'k', 0); // needs a new slot: none
    assert.deepEqual(c, { status: 'busy', retryAfterMs: 7 });
    assert.equal((await a).status, 'ok');
    assert.equal((await b).status, 'ok');
    assert.equal((await d.submit('s', 'd', 1, 'k', 0)).status, 'ok');
  });

  it('turns a failed task into a retry outcome for each of its callers', async () => {
    const sink = echoSink({ fail: EngineErrors.ENGINE_TASK_FAILED('x', { reason: 'worker_crashed' }) });
    const d = new Dispatcher(sink, codec, { batchMaxSize: 48, batchMaxWaitMicros: 0 }, { hardMax: 48 });
    const out = await Promise.all([1, 2, 3].map((i) => d.submit('s', i, 1, 'k', 0)));
    for (const o of out) assert.deepEqual(o, { status: 'retry', reason: 'worker_crashed', retryAfterMs: 50 });
    await d.idle();
    assert.equal(d.inFlightBatches, 0);
  });

  it('rejects every caller with the codec error when the script refused the batch', async () => {
    const sink: BatchSink = {
      tryReserve: () => true,
      retryAfterMs: () => 1,
      run: async () => packMessage([1, 0, 0, 1, ['LUA_NOT_FOUND', 'sale: no such sale']]),
    };
    const d = new Dispatcher(sink, codec, { batchMaxSize: 48, batchMaxWaitMicros: 0 }, { hardMax: 48 });
    const out = await Promise.allSettled([d.submit('s', 1, 1, 'k', 0), d.submit('s', 2, 1, 'k', 0)]);
    for (const o of out) {
      assert.equal(o.status, 'rejected');
      assert.match(String((o as PromiseRejectedResult).reason), /LUA_NOT_FOUND/);
    }
    assert.equal(REPLY_HEADER, 4);
  });
});
