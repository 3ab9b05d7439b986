/**
 * Typed errors with a stable machine code. Clients and callers match on `code`, never on `message`.
 * Each area keeps its own catalogue (see `defineErrors`), the way Fastify keeps `lib/errors.js`.
 */
export class TitanError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, status = 500, details?: Record<string, unknown>) {
    super(message);
    this.name = 'TitanError';
    this.code = code;
    this.status = status;
    this.details = details;
  }

  toJSON(): { code: string; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export type ErrorFactory = ((message?: string, details?: Record<string, unknown>) => TitanError) & {
  readonly code: string;
  readonly status: number;
  is(err: unknown): err is TitanError;
};

/**
 * Builds one factory per code: `const E = defineErrors({ SOLD_OUT: { status: 409, message: 'Sold out' } });`
 * then `throw E.SOLD_OUT()` or `throw E.SOLD_OUT('custom detail', { saleId })`.
 */
export function defineErrors<const T extends Record<string, ErrorSpec>>(
  specs: T,
): { [K in keyof T]: ErrorFactory } {
  const out: Record<string, ErrorFactory> = {};
  for (const [code, spec] of Object.entries(specs)) {
    const factory = ((message?: string, details?: Record<string, unknown>) =>
      new TitanError(code, message ?? spec.message, spec.status, details)) as ErrorFactory;
    Object.defineProperties(factory, {
      code: { value: code },
      status: { value: spec.status },
      is: { value: (err: unknown) => err instanceof TitanError && err.code === code },
    });
    out[code] = factory;
  }
  return out as { [K in keyof T]: ErrorFactory };
}

export function isTitanError(err: unknown): err is TitanError {
  return err instanceof TitanError;
}
