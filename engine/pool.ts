/**
 * One Piscina pool for one (cell, job kind), behind the dispatcher's BatchSink interface.
 *
 * - Threads start lazily: the Piscina instance is created on the first task, with the cell's minThreads (which
 *   may be 0) and maxThreads; workers above minThreads exit after idleTimeoutMs. warm() starts them ahead of
 *   traffic (before a sale opens), and a resize of a warmed pool warms its new generation.
 * - Admission: a batch reserves a task slot up front; slots are maxThreads * concurrentTasksPerWorker running
 *   plus maxQueue waiting. No slot: the caller gets BUSY at once, so the queue never grows past maxQueue.
 * - Live resize: Piscina options are fixed per instance, so new settings start a new generation; new batches go
 *   to it, and the old generation is closed once its own in-flight tasks have finished (none is dropped).
 * - Failures: a task rejected by Piscina (worker exited, threw, or the per-task timeout aborted it) becomes
 *   ENGINE_TASK_FAILED with a retry reason; the dispatcher answers its callers with a `retry` outcome.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { PoolName, PoolSettings } from '../cells/index.ts';
import type { Logger } from '../services/kit/logger.ts';
import { WARM_TASK_BYTES } from './codec.ts';
import type { BatchSink } from './dispatcher.ts';
import { EngineErrors } from './errors.ts';
import type { RetryReason } from './outcomes.ts';

export interface WorkerPoolOptions {
  readonly cell: number;
  readonly pool: PoolName;
  /** file: URL (href) of the worker module (.ts). */
  readonly filename: string;
  readonly settings: PoolSettings;
  /** Passed to every worker of the pool (cell id, Redis endpoint). */
  readonly workerData: unknown;
  readonly taskTimeoutMs: number;
  readonly resourceLimits?: ResourceLimits;
  readonly logger: Logger;
}

/** What a lane runs its batches on: a Piscina pool (WorkerPool) or the event loop itself (InLoopPool). */
export interface EnginePool extends BatchSink {
  readonly settings: PoolSettings;
  stats(): WorkerPoolStats;
  /** New settings (and possibly endpoint); true when it started a new generation. */
  resize(settings: PoolSettings, workerData: unknown): boolean;
  warm(): Promise<void>;
  killThread(): boolean;
  close(): Promise<void>;
}

/**
 * The admission rule of every lane: a new batch needs a task slot, and there are `maxThreads *
 * concurrentTasksPerWorker` running slots plus `maxQueue` waiting ones (reserved batches still filling count).
 */
export function hasTaskSlot(s: PoolSettings, reserved: number, inFlight: number): boolean {
  return reserved + inFlight < s.maxThreads * s.concurrentTasksPerWorker + s.maxQueue;
}

export interface WorkerPoolStats {
  readonly queueDepth: number;
  readonly inFlightTasks: number;
  readonly threads: number;
  readonly utilization: number;
  readonly completedTasks: number;
  readonly generation: number;
  /** Generations still draining after a resize. */
  readonly draining: number;
}

/**
 * Workers load TypeScript through tsx. Under `node --import tsx` or the `tsx` CLI, worker threads inherit the
 * parent's execArgv (which already registers tsx); otherwise they are given tsx explicitly.
 */
export const WORKER_EXEC_ARGV: string[] | undefined = process.execArgv.some((a) => a.includes('tsx'))
  ? undefined
  : ['--import', import.meta.resolve('tsx')];

type LoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

/**
 * Least-busy placement that lets batches share a thread up to concurrentTasksPerWorker. Piscina's own balancer
 * (and the `currentUsage` it reads, Infinity while a thread runs a task with an AbortSignal) gives a task with a
 * signal only to an idle thread, because aborting a running task ends its thread. Ours all carry the task
 * timeout, so concurrentTasksPerWorker was 1 in effect: batches queued behind one another while their thread
 * sat waiting on Redis, and under load the queue wait alone ran into the timeout. Sharing means a timeout ends
 * the thread's other batches too; their callers get `retry` as after a crash, which idempotency keys make safe
 * (and workers answer retry themselves within half the timeout, see withinBudget, so aborts are rare).
 */
export function sharedThreadBalancer(maximumUsage: number): LoadBalancer {
  return (_task, workers) => {
    let best: (typeof workers)[number] | null = null;
    let bestTasks = maximumUsage;
    for (const w of workers) {
      const tasks = runningTasks(w);
      if (tasks === 0) return w;
      if (tasks < bestTasks) {
        best = w;
        bestTasks = tasks;
      }
    }
    return best;
  };
}

/**
 * Tasks running on a Piscina thread, counted from its task table (Piscina's internal worker record, reached by
 * its symbol): `currentUsage` hides the count behind Infinity once one of them is abortable. The pool tests
 * check that abortable tasks do share a thread, so a Piscina upgrade that moves this fails there.
 */
function runningTasks(worker: Parameters<LoadBalancer>[1][number]): number {
  const record = Object.getOwnPropertySymbols(worker).find((s) => s.description === 'Piscina.kWorkerData');
  const tasks =
    record && (worker as unknown as Record<symbol, { taskInfos?: Map<unknown, unknown> }>)[record];
  return tasks?.taskInfos?.size ?? worker.currentUsage;
}

/**
 * A task's abort signal for Piscina, expired by its pool's one deadline sweep: an `AbortSignal.timeout` per
 * task costs a timer, an EventTarget, a WeakRef and a FinalizationRegistry entry on the main thread, for a
 * backstop that almost never fires. Piscina needs only `aborted`, `reason` and the listener methods.
 */
class DeadlineSignal {
  aborted = false;
  reason: unknown = undefined;
  /** The task settled: the sweep skips it. */
  done = false;
  #listener: (() => void) | undefined;
  constructor(readonly deadline: number) {}
  addEventListener(_type: 'abort', listener: () => void): void {
    this.#listener = listener;
  }
  removeEventListener(): void {
    this.#listener = undefined;
  }
  expire(): void {
    if (this.done || this.aborted) return;
    this.aborted = true;
    this.reason = new DOMException('The task timed out', 'TimeoutError');
    this.#listener?.();
  }
}

/** Every task of a pool has the same timeout, so deadlines only grow: a FIFO swept a few times a second. */
class TaskDeadlines {
  #queue: DeadlineSignal[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  constructor(readonly timeoutMs: number) {}

  signal(): DeadlineSignal {
    const s = new DeadlineSignal(performance.now() + this.timeoutMs);
    this.#queue.push(s);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), Math.max(10, Math.min(250, this.timeoutMs / 4)));
      this.#timer.unref();
    }
    return s;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    const now = performance.now();
    const q = this.#queue;
    let head = this.#head;
    while (head < q.length && (q[head]!.done || q[head]!.deadline <= now)) q[head++]!.expire();
    if (head === q.length) {
      this.#queue = [];
      head = 0;
      this.stop();
    } else if (head > 1024) {
      this.#queue = q.slice(head);
      head = 0;
    }
    this.#head = head;
  }
}

class Generation {
  piscina: Piscina | null = null;
  /** Set once warm() ran on this generation: its threads were started ahead of traffic. */
  warmed: Promise<void> | null = null;
  inFlight = 0;
  retired = false;
  #closing = false;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  constructor(
    readonly id: number,
    public settings: PoolSettings,
    readonly workerData: unknown,
  ) {
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** Closes the Piscina pool once retired and idle; `onClosed` gets the tasks it completed. */
  closeIfDrained(onClosed: (gen: Generation, completed: number) => void): void {
    if (!this.retired || this.inFlight > 0 || this.#closing) return;
    this.#closing = true;
    const p = this.piscina;
    if (p === null) {
      onClosed(this, 0);
      this.#resolveClosed();
      return;
    }
    const done = () => {
      this.piscina = null;
      onClosed(this, p.completed);
      this.#resolveClosed();
    };
    p.close().then(done, done);
  }
}

export class WorkerPool implements EnginePool {
  readonly cell: number;
  readonly pool: PoolName;
  readonly #options: WorkerPoolOptions;
  #gen: Generation;
  readonly #old = new Set<Generation>();
  #reserved = 0;
  #completedBefore = 0;
  #ewmaTaskMs = 1;
  #closed = false;
  readonly #deadlines: TaskDeadlines;

  constructor(options: WorkerPoolOptions) {
    this.cell = options.cell;
    this.pool = options.pool;
    this.#options = options;
    this.#gen = new Generation(1, { ...options.settings }, options.workerData);
    this.#deadlines = new TaskDeadlines(options.taskTimeoutMs);
  }

  get settings(): PoolSettings {
    return this.#gen.settings;
  }

  /** Slots: running capacity plus the queue; counts this generation's tasks and the batches being filled. */
  tryReserve(): boolean {
    if (this.#closed || !hasTaskSlot(this.#gen.settings, this.#reserved, this.#gen.inFlight)) return false;
    this.#reserved++;
    return true;
  }

  release(): void {
    this.#reserved--;
  }

  /** About how long a task takes here from submission to answer (queue wait included), at least 1 ms. */
  retryAfterMs(): number {
    return Math.min(5000, Math.max(1, Math.ceil(this.#ewmaTaskMs)));
  }

  run(task: Uint8Array): Promise<Uint8Array> {
    this.#reserved--;
    const gen = this.#gen;
    gen.inFlight++;
    const started = performance.now();
    const piscina = this.#start(gen);
    const signal = this.#deadlines.signal();
    return piscina.run(task, { transferList: [task.buffer as ArrayBuffer], signal }).then(
      (reply: Uint8Array) => {
        signal.done = true;
        this.#ewmaTaskMs += (performance.now() - started - this.#ewmaTaskMs) * 0.1;
        this.#finish(gen);
        return reply;
      },
      (err: unknown) => {
        signal.done = true;
        this.#finish(gen);
        throw taskFailure(err);
      },
    );
  }

  /**
   * Starts the pool's threads now instead of on the first task: the Piscina instance (minThreads threads, at
   * least one), each thread's module and Redis connection, proven by one warm-up task per thread. Resolves when
   * they have answered; a failure is logged, not thrown (the first real task would start them anyway).
   */
  warm(): Promise<void> {
    const gen = this.#gen;
    if (this.#closed) return Promise.resolve();
    if (gen.warmed !== null) return gen.warmed;
    const piscina = this.#start(gen);
    const threads = Math.max(1, Math.min(gen.settings.minThreads, gen.settings.maxThreads));
    const tasks: Promise<unknown>[] = [];
    for (let i = 0; i < threads; i++) {
      gen.inFlight++;
      const signal = this.#deadlines.signal();
      tasks.push(
        piscina.run(new Uint8Array(WARM_TASK_BYTES), { signal }).finally(() => {
          signal.done = true;
          this.#finish(gen);
        }),
      );
    }
    gen.warmed = Promise.all(tasks).then(
      () => undefined,
      (err: unknown) =>
        this.#options.logger.warn({ cell: this.cell, pool: this.pool, err }, 'engine pool warm-up failed'),
    );
    return gen.warmed;
  }

  /**
   * Fault injection (chaos runs): ends one of the current generation's threads at once, whatever it is doing,
   * as a crash would. Piscina fails that thread's tasks (the callers get `retry`) and starts a replacement.
   */
  killThread(): boolean {
    const threads = this.#gen.piscina?.threads ?? [];
    const victim = threads[Math.floor(Math.random() * threads.length)];
    if (victim === undefined) return false;
    void victim.terminate();
    return true;
  }

  /**
   * Applies new settings (and possibly a new Redis endpoint). Returns true when a new generation was started;
   * false when nothing a Piscina instance is built from changed (maxQueue and batch settings apply in place).
   */
  resize(settings: PoolSettings, workerData: unknown): boolean {
    const cur = this.#gen;
    const s = cur.settings;
    const same =
      s.minThreads === settings.minThreads &&
      s.maxThreads === settings.maxThreads &&
      s.concurrentTasksPerWorker === settings.concurrentTasksPerWorker &&
      s.idleTimeoutMs === settings.idleTimeoutMs &&
      JSON.stringify(cur.workerData) === JSON.stringify(workerData);
    if (same) {
      cur.settings = { ...settings };
      return false;
    }
    this.#gen = new Generation(cur.id + 1, { ...settings }, workerData);
    this.#retire(cur);
    if (cur.warmed !== null) void this.warm();
    this.#options.logger.info(
      { cell: this.cell, pool: this.pool, generation: this.#gen.id, settings },
      'engine pool resized',
    );
    return true;
  }

  stats(): WorkerPoolStats {
    let queueDepth = 0;
    let threads = 0;
    let inFlight = 0;
    let completed = this.#completedBefore;
    for (const g of new Set([this.#gen, ...this.#old])) {
      inFlight += g.inFlight;
      if (g.piscina !== null) {
        queueDepth += g.piscina.queueSize;
        threads += g.piscina.threads.length;
        completed += g.piscina.completed;
      }
    }
    const p = this.#gen.piscina;
    return {
      queueDepth,
      inFlightTasks: inFlight,
      threads,
      utilization: p === null ? 0 : p.utilization,
      completedTasks: completed,
      generation: this.#gen.id,
      draining: this.#old.size,
    };
  }

  /** Waits for every in-flight task of every generation, then closes the pools (workers and their Redis). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#retire(this.#gen);
    await Promise.all([...this.#old].map((g) => g.closed));
    this.#deadlines.stop();
  }

  #start(gen: Generation): Piscina {
    if (gen.piscina !== null) return gen.piscina;
    const s = gen.settings;
    const piscina = new Piscina({
      filename: this.#options.filename,
      minThreads: s.minThreads,
      maxThreads: s.maxThreads,
      concurrentTasksPerWorker: s.concurrentTasksPerWorker,
      loadBalancer: sharedThreadBalancer(s.concurrentTasksPerWorker),
      idleTimeout: s.idleTimeoutMs,
      // admission (tryReserve) bounds the queue; Piscina's own limit would only duplicate it
      maxQueue: Number.POSITIVE_INFINITY,
      // workers wait on Redis between tasks' awaits; a blocking Atomics.wait loop would stall their sockets
      atomics: 'disabled',
      workerData: gen.workerData,
      ...(WORKER_EXEC_ARGV === undefined ? {} : { execArgv: WORKER_EXEC_ARGV }),
      ...(this.#options.resourceLimits === undefined ? {} : { resourceLimits: this.#options.resourceLimits }),
    });
    // A worker that dies with no task in flight is reported here; Piscina replaces it on demand.
    piscina.on('error', (err: unknown) =>
      this.#options.logger.warn({ cell: this.cell, pool: this.pool, err }, 'engine worker error'),
    );
    gen.piscina = piscina;
    return piscina;
  }

  #finish(gen: Generation): void {
    gen.inFlight--;
    gen.closeIfDrained(this.#onClosed);
  }

  #retire(gen: Generation): void {
    gen.retired = true;
    this.#old.add(gen);
    gen.closeIfDrained(this.#onClosed);
  }

  readonly #onClosed = (gen: Generation, completed: number): void => {
    this.#completedBefore += completed;
    this.#old.delete(gen);
  };
}

function taskFailure(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  let reason: RetryReason = 'worker_error';
  if (err instanceof Error && err.name === 'AbortError') {
    const cause = (err as Error & { cause?: { name?: string } }).cause;
    reason = cause?.name === 'TimeoutError' ? 'timeout' : 'pool_closed';
  } else if (/worker exited|Terminating worker thread/.test(message)) {
    reason = 'worker_crashed';
  }
  return EngineErrors.ENGINE_TASK_FAILED(`${reason}: ${message}`, { reason });
}
