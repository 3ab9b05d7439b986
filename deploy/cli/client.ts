/**
 * The admin API seen from the command line: logs in as an operator (or uses TITAN_TOKEN) and sends
 * JSON requests to the edge. An API error becomes a TitanError with the API's code and message.
 */
import { TitanError } from '../../services/kit/index.ts';
import { CliErrors } from './errors.ts';

export interface Credentials {
  /** A ready access token; used when given and no email/password was asked for explicitly. */
  token?: string | undefined;
  email: string;
  password: string;
}

export interface AdminClientOptions {
  edge: string;
  credentials: Credentials;
  timeoutMs?: number;
}

export class AdminClient {
  readonly #edge: string;
  readonly #credentials: Credentials;
  readonly #timeoutMs: number;
  #token: Promise<string> | undefined;

  constructor(options: AdminClientOptions) {
    this.#edge = options.edge.replace(/\/+$/, '');
    this.#credentials = options.credentials;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** Sends one API call; resolves the JSON body of a 2xx answer, rejects with the API's `{code, message}`. */
  async request<T = unknown>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const token = await this.token();
    return this.#send<T>(method, path, {
      ...options,
      headers: { ...options.headers, authorization: `Bearer ${token}` },
    });
  }

  token(): Promise<string> {
    const { token, email, password } = this.#credentials;
    this.#token ??= token
      ? Promise.resolve(token)
      : this.#send<{ accessToken: string }>('POST', '/v1/auth/login', { body: { email, password } }).then(
          (r) => r.accessToken,
        );
    return this.#token;
  }

  async #send<T>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> },
  ): Promise<T> {
    const url = `${this.#edge}${path}`;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
        ...(body === undefined ? {} : { body }),
      });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (err as Error).message;
      throw CliErrors.EDGE_UNREACHABLE(`cannot reach ${this.#edge} (${cause})`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw CliErrors.EDGE_BAD_RESPONSE(`${method} ${url} answered ${res.status} with non-JSON`);
    }
    if (res.ok) return parsed as T;
    const e = parsed as { code?: unknown; message?: unknown } | undefined;
    if (typeof e?.code === 'string') {
      throw new TitanError(e.code, typeof e.message === 'string' ? e.message : e.code, res.status);
    }
    throw CliErrors.EDGE_BAD_RESPONSE(`${method} ${url} answered ${res.status}`);
  }
}
