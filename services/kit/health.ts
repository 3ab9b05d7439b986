/**
 * Liveness and readiness. `/health` says the process is alive; `/ready` runs every registered
 * dependency check (with a timeout each) and is ready only when all pass and no shutdown began.
 */
export type ReadinessCheck = () => Promise<unknown>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string; ms: number }>;
}

export class Health {
  readonly #checks = new Map<string, ReadinessCheck>();
  #shuttingDown = false;

  constructor(private readonly timeoutMs = 2000) {}

  addCheck(name: string, check: ReadinessCheck): this {
    this.#checks.set(name, check);
    return this;
  }

  /** After this, readiness fails so load balancers stop sending traffic while the process drains. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  async readiness(): Promise<ReadinessReport> {
    const checks: ReadinessReport['checks'] = {};
    await Promise.all(
      [...this.#checks].map(async ([name, check]) => {
        const started = performance.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`timed out after ${this.timeoutMs} ms`)),
                this.timeoutMs,
              );
            }),
          ]);
          checks[name] = { ok: true, ms: Math.round(performance.now() - started) };
        } catch (err) {
          checks[name] = {
            ok: false,
            error: (err as Error).message,
            ms: Math.round(performance.now() - started),
          };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    if (this.#shuttingDown) checks.shutdown = { ok: false, error: 'shutting down', ms: 0 };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}
