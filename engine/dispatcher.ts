/**
 * A batching dispatcher: one per (cell, pool). Requests for the same batch key (a flash sale's id) that arrive in
 * the same event-loop turn, or within `batchMaxWaitMicros` of the first (a window of 1 ms or more), are coalesced into ONE task of at most
 * `min(batchMaxSize, hardMax)` requests; each entry of the task's reply goes back to its own caller by position.
 *
 * Admission is decided at once: a request that joins an open batch needs no new task; one that opens a batch
 * must reserve a task slot from the sink (the pool), or it gets a BUSY outcome immediately.
 *
 * The dispatcher knows nothing about Piscina: the sink may be a worker pool or, in benchmarks, a function.
 */
import { isTitanError } from '../services/kit/errors.ts';
import { packMessage, REPLY_HEADER, ReplyCode, STRIDE, TASK_HEADER, unpackMessage } from './codec.ts';
import type { RetryReason } from './outcomes.ts';

export interface BatchSink {
  /** Reserves a task slot for a new batch; false when the pool's queue is full. */
  tryReserve(): boolean;
  /** Hint for a BUSY answer's retry-after. */
  retryAfterMs(): number;
  /** Runs one task on a reserved slot. Rejects with ENGINE_TASK_FAILED ({ reason }) when it failed retriably. */
  run(task: Uint8Array): Promise<Uint8Array>;
}

/** Where the dispatcher reports what it saw (metrics); every method is called once per batch or per event. */
export interface BatchObserver {
  batch(size: number): void;
  reply(submittedAtMs: number, startedAtMs: number, runMicros: number, luaCalls: number): void;
  busy(): void;
  retry(requests: number): void;
}

export interface BatchCodec<Out> {
  /**
   * Turns request `i`'s part of an OK reply's payload into its caller's outcome; may throw to reject that caller
   * alone. (The payload is the kind's: one entry per request, possibly after values shared by the batch.)
   */
  decode(payload: readonly unknown[], i: number): Out;
  /** The error every caller of a batch gets when the script refused the batch as a whole. */
  refused(code: string, message: string): Error;
  busy(retryAfterMs: number): Out;
  retry(reason: RetryReason, retryAfterMs: number): Out;
}

export interface BatchSettings {
  readonly batchMaxSize: number;
  readonly batchMaxWaitMicros: number;
}

type Resolve<Out> = (value: Out) => void;
type Reject = (err: unknown) => void;

interface Batch<Out> {
  readonly key: string;
  readonly fields: unknown[];
  readonly resolves: Resolve<Out>[];
  readonly rejects: Reject[];
  readonly openedAt: number;
}

/** Retry-after given to callers of a failed batch: long enough for a replacement worker to start. */
const FAILED_BATCH_RETRY_MS = 50;

export const NOOP_OBSERVER: BatchObserver = {
  batch() {},
  reply() {},
  busy() {},
  retry() {},
};

export class Dispatcher<Out> {
  readonly #sink: BatchSink;
  readonly #codec: BatchCodec<Out>;
  readonly #observer: BatchObserver;
  readonly #hardMax: number;
  readonly #open = new Map<string, Batch<Out>>();
  #maxSize = 1;
  #maxWaitMs = 0;
  #scheduled = false;
  #pending = 0;
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(
    sink: BatchSink,
    codec: BatchCodec<Out>,
    settings: BatchSettings,
    options: { hardMax: number; observer?: BatchObserver },
  ) {
    this.#sink = sink;
    this.#codec = codec;
    this.#observer = options.observer ?? NOOP_OBSERVER;
    this.#hardMax = options.hardMax;
    this.configure(settings);
  }

  /** Applies new batch settings; open batches keep filling under the new limits. */
  configure(settings: BatchSettings): void {
    this.#maxSize = Math.max(1, Math.min(settings.batchMaxSize, this.#hardMax));
    this.#maxWaitMs = settings.batchMaxWaitMicros / 1000;
  }

  get maxBatchSize(): number {
    return this.#maxSize;
  }
  /** Requests waiting in open batches (not sent to the pool yet). */
  get pendingRequests(): number {
    return this.#pending;
  }
  /** Batches sent to the pool and not answered yet. */
  get inFlightBatches(): number {
    return this.#inFlight;
  }

  /** Adds one request of STRIDE fields to the open batch of `key`. */
  submit(key: string, f0: unknown, f1: unknown, f2: unknown, f3: unknown): Promise<Out> {
    let b = this.#open.get(key);
    if (b === undefined) {
      if (!this.#sink.tryReserve()) {
        this.#observer.busy();
        return Promise.resolve(this.#codec.busy(this.#sink.retryAfterMs()));
      }
      b = {
        key,
        fields: [key, 0, 0],
        resolves: [],
        rejects: [],
        openedAt: this.#maxWaitMs >= 1 ? performance.now() : 0,
      };
      this.#open.set(key, b);
      this.#schedule();
    }
    const batch = b;
    batch.fields.push(f0, f1, f2, f3);
    this.#pending++;
    const promise = new Promise<Out>((resolve, reject) => {
      batch.resolves.push(resolve);
      batch.rejects.push(reject);
    });
    if (batch.resolves.length >= this.#maxSize) this.#flush(batch);
    return promise;
  }

  /** Sends every open batch now (used when closing). */
  flushAll(): void {
    for (const b of this.#open.values()) this.#flush(b);
  }

  /** Resolves when no batch is open or in flight. */
  idle(): Promise<void> {
    if (this.#open.size === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * A window under 1 ms closes at the end of the current event-loop turn (one setImmediate); a longer one arms
   * one timer per dispatcher. Timers cannot be finer than 1 ms, and polling turn by turn for the last stretch
   * kept the loop from ever sleeping under load (native-bench/README.md, "Check first").
   */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#maxWaitMs < 1) setImmediate(this.#tick);
    else setTimeout(this.#tick, this.#maxWaitMs);
  }

  readonly #tick = (): void => {
    this.#scheduled = false;
    const wait = this.#maxWaitMs;
    if (wait < 1) {
      for (const b of this.#open.values()) this.#flush(b);
      return;
    }
    const now = performance.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const b of this.#open.values()) {
      const left = wait - (now - b.openedAt);
      // A timer fires up to a millisecond early or late: flush what is due within half of one.
      if (left < 0.5) this.#flush(b);
      else if (left < soonest) soonest = left;
    }
    if (soonest === Number.POSITIVE_INFINITY) return;
    this.#scheduled = true;
    setTimeout(this.#tick, Math.max(1, Math.round(soonest)));
  };

  #flush(b: Batch<Out>): void {
    this.#open.delete(b.key);
    const n = b.resolves.length;
    this.#pending -= n;
    this.#inFlight++;
    b.fields[2] = n;
    this.#observer.batch(n);
    const submittedAt = performance.timeOrigin + performance.now();
    let task: Uint8Array;
    try {
      task = packMessage(b.fields);
    } catch (err) {
      for (let i = 0; i < b.rejects.length; i++) b.rejects[i]!(err);
      this.#done();
      return;
    }
    this.#sink.run(task).then(
      (reply) => this.#route(b, reply, submittedAt),
      (err) => this.#settleError(b, err),
    );
  }

  #route(b: Batch<Out>, reply: Uint8Array, submittedAt: number): void {
    const { resolves, rejects } = b;
    try {
      const r = unpackMessage(reply);
      this.#observer.reply(submittedAt, r[1] as number, r[2] as number, r[3] as number);
      const code = r[0] as number;
      if (code === ReplyCode.OK) {
        const payload = r[REPLY_HEADER] as unknown[];
        for (let i = 0; i < resolves.length; i++) {
          try {
            resolves[i]!(this.#codec.decode(payload, i));
          } catch (err) {
            rejects[i]!(err);
          }
        }
      } else if (code === ReplyCode.REFUSED) {
        const [code, message] = r[REPLY_HEADER] as [string, string];
        const err = this.#codec.refused(code, message);
        for (let i = 0; i < rejects.length; i++) rejects[i]!(err);
      } else {
        this.#retryAll(b, 'redis_unavailable');
      }
    } catch (err) {
      for (let i = 0; i < rejects.length; i++) rejects[i]!(err);
    }
    this.#done();
  }

  /** Any failure of the task itself (crash, throw, timeout, closed pool) is retriable for all of its callers. */
  #settleError(b: Batch<Out>, err: unknown): void {
    const reason = isTitanError(err) ? (err.details?.['reason'] as RetryReason | undefined) : undefined;
    this.#retryAll(b, reason ?? 'worker_error');
    this.#done();
  }

  #retryAll(b: Batch<Out>, reason: RetryReason): void {
    this.#observer.retry(b.resolves.length);
    const outcome = this.#codec.retry(reason, FAILED_BATCH_RETRY_MS);
    for (let i = 0; i < b.resolves.length; i++) b.resolves[i]!(outcome);
  }

  #done(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#open.size === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

export { STRIDE, TASK_HEADER };
