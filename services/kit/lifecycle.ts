/**
 * Graceful shutdown. Parts register a closer when they start; on SIGTERM/SIGINT (or `shutdown()`)
 * closers run in reverse order of registration (stop accepting first, close connections last),
 * each bounded by the overall deadline. The process exits 0 when everything closed in time, 1 otherwise.
 */
import type { Logger } from './logger.ts';

export type Closer = () => Promise<void> | void;

export interface LifecycleOptions {
  log: Logger;
  /** Whole shutdown budget; past it the process exits 1. */
  timeoutMs?: number;
  /** Call process.exit when done (default true); tests pass false. */
  exit?: boolean;
  signals?: readonly NodeJS.Signals[];
}

export class Lifecycle {
  readonly #closers: { name: string; close: Closer }[] = [];
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #exit: boolean;
  #shutdown: Promise<boolean> | undefined;
  readonly #onSignal = (signal: NodeJS.Signals) => {
    this.#log.info({ signal }, 'shutdown requested');
    void this.shutdown();
  };

  constructor(options: LifecycleOptions) {
    this.#log = options.log;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#exit = options.exit ?? true;
    for (const s of options.signals ?? ['SIGTERM', 'SIGINT']) process.on(s, this.#onSignal);
    // Started by a supervisor with an IPC channel: when the supervisor dies, so do we (no orphans).
    if (process.channel && options.signals === undefined) {
      process.once('disconnect', () => {
        this.#log.warn('parent process is gone; shutting down');
        void this.shutdown();
      });
    }
  }

  onShutdown(name: string, close: Closer): this {
    this.#closers.push({ name, close });
    return this;
  }

  get stopping(): boolean {
    return this.#shutdown !== undefined;
  }

  /** Runs the closers once; later calls return the same result. Resolves true when all closed in time. */
  shutdown(): Promise<boolean> {
    this.#shutdown ??= this.#run();
    return this.#shutdown;
  }

  async #run(): Promise<boolean> {
    const deadline = Date.now() + this.#timeoutMs;
    let clean = true;
    for (const { name, close } of [...this.#closers].reverse()) {
      const left = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(close),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('shutdown deadline passed')), Math.max(0, left));
          }),
        ]);
        this.#log.debug({ part: name }, 'closed');
      } catch (err) {
        clean = false;
        this.#log.error({ part: name, err }, 'close failed');
      } finally {
        clearTimeout(timer);
      }
    }
    this.#log.info({ clean }, 'shutdown complete');
    if (this.#exit) {
      this.#log.flush?.();
      process.exit(clean ? 0 : 1);
    }
    return clean;
  }
}
