/**
 * The fuzz run's figures and its verdict: answers by status class, legitimate 503s, and the invariant
 * breaches (5xx, rejections without a code, state changed by a rejection, crashes, hangs), each with a
 * few example inputs so a failure can be read and replayed.
 */

export const LEGIT_503 = new Set(['BUSY', 'CELL_UNAVAILABLE', 'SLOT_MOVING', 'UPSTREAM_UNAVAILABLE']);

export interface FuzzReport {
  seed: number;
  seconds: number;
  http: { requests: number; byClass: Record<string, number> };
  socket: { cases: number; answered: number; closedOrSilent: number; parserRejections: number };
  ws: { connections: number; frames: number; replies: number; errorReplies: number; closedByServer: number };
  /** 503 with a code and Retry-After: a legitimate answer, counted apart. */
  legit503: Record<string, number>;
  purchases: number;
  registrations: number;
  violations: {
    fiveXX: number;
    noCode: number;
    stateChanges: number;
    crashes: number;
    hangs: number;
  };
  examples: string[];
}

export function emptyReport(seed: number): FuzzReport {
  return {
    seed,
    seconds: 0,
    http: { requests: 0, byClass: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, none: 0 } },
    socket: { cases: 0, answered: 0, closedOrSilent: 0, parserRejections: 0 },
    ws: { connections: 0, frames: 0, replies: 0, errorReplies: 0, closedByServer: 0 },
    legit503: {},
    purchases: 0,
    registrations: 0,
    violations: { fiveXX: 0, noCode: 0, stateChanges: 0, crashes: 0, hangs: 0 },
    examples: [],
  };
}

export function violate(report: FuzzReport, kind: keyof FuzzReport['violations'], example: string): void {
  report.violations[kind]++;
  if (report.examples.length < 30) report.examples.push(`[${kind}] ${example.slice(0, 600)}`);
}

export const violationCount = (r: FuzzReport): number =>
  Object.values(r.violations).reduce((a, b) => a + b, 0);

export function statusClass(status: number): string {
  return status === 0 ? 'none' : `${Math.floor(status / 100)}xx`;
}

/** Checks one HTTP answer: 5xx only as a coded 503 with Retry-After; every 4xx a JSON `{code, message}`. */
export function checkAnswer(
  report: FuzzReport,
  status: number,
  headers: Record<string, string>,
  body: string,
  what: string,
): 'ok' | 'rejected' | 'bad' {
  let parsed: { code?: unknown; message?: unknown } | undefined;
  try {
    parsed = JSON.parse(body);
  } catch {}
  const code = typeof parsed?.code === 'string' && parsed.code.length > 0 ? parsed.code : undefined;
  if (status >= 500) {
    if (status === 503 && code && LEGIT_503.has(code) && Number(headers['retry-after']) >= 1) {
      report.legit503[code] = (report.legit503[code] ?? 0) + 1;
      return 'rejected';
    }
    violate(report, 'fiveXX', `${status} ${body.slice(0, 200)} <- ${what}`);
    return 'bad';
  }
  if (status >= 400) {
    if (!code || typeof parsed?.message !== 'string') {
      violate(report, 'noCode', `${status} ${body.slice(0, 200)} <- ${what}`);
      return 'bad';
    }
    return 'rejected';
  }
  return 'ok';
}

export function formatReport(r: FuzzReport): string {
  const rows: [string, string | number, string][] = [
    ['seed', r.seed, ''],
    ['seconds', r.seconds.toFixed(1), ''],
    ['HTTP requests sent', r.http.requests, ''],
    ...Object.entries(r.http.byClass).map(([k, v]) => [`  answered ${k}`, v, ''] as [string, number, string]),
    ...Object.entries(r.legit503).map(
      ([k, v]) => [`  of which 503 ${k} (legitimate)`, v, ''] as [string, number, string],
    ),
    ['  successful purchases (counted in ledger)', r.purchases, ''],
    ['  registrations 201 (counted in users)', r.registrations, ''],
    ['raw socket cases', r.socket.cases, ''],
    ['  answered', r.socket.answered, ''],
    ['  closed or silent (malformed protocol)', r.socket.closedOrSilent, ''],
    ['  bare 4xx from the HTTP parser (uWS)', r.socket.parserRejections, ''],
    ['WebSocket connections', r.ws.connections, ''],
    ['  frames sent', r.ws.frames, ''],
    ['  replies / error replies', `${r.ws.replies} / ${r.ws.errorReplies}`, ''],
    ['  closed by server (oversize, flood, bad frame)', r.ws.closedByServer, ''],
    ['5xx under fuzz (not a coded 503)', r.violations.fiveXX, 'must be 0'],
    ['rejections without a code', r.violations.noCode, 'must be 0'],
    ['state changes by rejections', r.violations.stateChanges, 'must be 0'],
    ['crashes (edge dead or /health failing)', r.violations.crashes, 'must be 0'],
    ['hangs (well-formed request unanswered)', r.violations.hangs, 'must be 0'],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  const lines = rows.map(([k, v, note]) => `${k.padEnd(w)}  ${String(v).padStart(8)}  ${note}`);
  const verdict = violationCount(r) === 0 ? 'PASS: every invariant held' : 'FAIL: invariants broke';
  return [...lines, verdict, ...r.examples.map((e) => `  ${e}`)].join('\n');
}
