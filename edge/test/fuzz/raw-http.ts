/**
 * HTTP/1.1 over a raw TCP socket, so the fuzzer controls every byte: duplicated and malformed headers,
 * Content-Length lies, control characters, pipelined junk, slow drips. Reads one response (Content-Length
 * or chunked); a connection closed without a response is reported as such, not as an error.
 */
import { connect } from 'node:net';

export interface RawResponse {
  /** 0 when the server closed (or timed out) without a parsable response. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** What happened to the connection: answered, closed by the server, or still silent at the deadline. */
  outcome: 'answered' | 'closed' | 'timeout' | 'error';
  raw: string;
}

export interface RawRequestOptions {
  port: number;
  /** Sent in order; a delay between chunks drips them slowly. */
  chunks: readonly (string | Buffer)[];
  dripMs?: number;
  timeoutMs?: number;
}

/** Parses the first complete response in `buf`, or undefined while incomplete. */
export function parseResponse(buf: Buffer): Omit<RawResponse, 'outcome' | 'raw'> | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (!m) return { status: 0, headers: {}, body: buf.toString('latin1') };
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) {
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
  }
  const rest = buf.subarray(end + 4);
  if (headers['transfer-encoding']?.includes('chunked')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const nl = rest.indexOf('\r\n', at);
      if (nl < 0) return undefined;
      const size = Number.parseInt(rest.subarray(at, nl).toString('latin1'), 16);
      if (Number.isNaN(size)) return { status: Number(m[1]), headers, body: '' };
      if (size === 0) break;
      if (rest.length < nl + 2 + size + 2) return undefined;
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      at = nl + 2 + size + 2;
    }
    return { status: Number(m[1]), headers, body: Buffer.concat(parts).toString('utf8') };
  }
  const length = Number(headers['content-length'] ?? 0);
  if (rest.length < length) return undefined;
  return { status: Number(m[1]), headers, body: rest.subarray(0, length).toString('utf8') };
}

export function rawRequest(opts: RawRequestOptions): Promise<RawResponse> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const timers: NodeJS.Timeout[] = [];
    const socket = connect(opts.port, '127.0.0.1');
    const finish = (outcome: RawResponse['outcome']) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      socket.destroy();
      const parsed = parseResponse(buf);
      const raw = buf.toString('latin1');
      if (parsed && parsed.status > 0) resolve({ ...parsed, outcome: 'answered', raw });
      else resolve({ status: 0, headers: {}, body: raw, outcome, raw });
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const parsed = parseResponse(buf);
      if (parsed) finish('answered');
    });
    socket.on('close', () => finish('closed'));
    socket.on('error', () => finish(buf.length > 0 ? 'closed' : 'error'));
    timers.push(setTimeout(() => finish('timeout'), timeoutMs));
    socket.once('connect', () => {
      const drip = opts.dripMs ?? 0;
      opts.chunks.forEach((chunk, i) => {
        const write = () => {
          if (!done && !socket.destroyed) socket.write(chunk);
        };
        if (drip > 0 && i > 0) timers.push(setTimeout(write, drip * i));
        else write();
      });
    });
  });
}

/** One request as bytes: `headers` may repeat names and hold anything. */
export function buildRequest(
  method: string,
  target: string,
  headers: [string, string][],
  body?: string | Buffer,
): Buffer {
  const head = `${method} ${target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), body === undefined ? Buffer.alloc(0) : Buffer.from(body)]);
}
