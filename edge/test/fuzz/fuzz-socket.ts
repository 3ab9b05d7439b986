/**
 * Raw TCP abuse of the edge's HTTP port: random bytes, malformed request lines, header floods, slow-drip
 * and short bodies, oversized bodies (declared and actual), chunked bodies, pipelined junk, control
 * characters in Idempotency-Key. Silence or a closed connection is an acceptable answer to bytes that are
 * not HTTP; any answer the edge does give must be a coded 4xx, and nothing may change state.
 */
import fc from 'fast-check';
import type { FuzzBudget } from './fuzz-http.ts';
import { checkAlive } from './fuzz-http.ts';
import type { FuzzTarget } from './fuzz-target.ts';
import { buildRequest, parseResponse, rawRequest } from './raw-http.ts';
import { checkAnswer, type FuzzReport, violate } from './report.ts';
import { diffSnapshots, StateProbe } from './state.ts';

interface SocketCase {
  kind: string;
  chunks: readonly (string | Buffer)[];
  dripMs?: number;
  /** The edge must answer (the HTTP server's own defences: 408 slow body, 413 too large). */
  expect?: number;
}

function socketCaseArb(t: FuzzTarget): fc.Arbitrary<SocketCase> {
  const buyer = `Bearer ${t.buyers[0]!.token}`;
  const purchase = `/v1/flash-sales/${t.liveSaleId}/purchase`;
  const base: [string, string][] = [['host', 'x']];
  return fc.oneof(
    fc
      .uint8Array({ minLength: 1, maxLength: 2000 })
      .map((b) => ({ kind: 'random bytes', chunks: [Buffer.from(b)] })),
    fc
      .constantFrom(
        'GET\r\n\r\n',
        'GET /\r\n\r\n',
        'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
        'G\u0000T / HTTP/1.1\r\nHost: x\r\n\r\n',
        ' / HTTP/1.1\r\n\r\n',
        'GET /v1/session HTTP/1.1\r\nHost: x\r\nAuthorization\r\n\r\n',
        'GET /v1/session HTTP/1.1\r\n: empty-name\r\n\r\n',
        'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}',
        'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
        `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        'GET /v1/flash-sales/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n',
        'GET /v1/admin/flash-sales/%zz HTTP/1.1\r\nHost: x\r\n\r\n',
        'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n',
        'GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n',
        '\r\n\r\n\r\n',
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      )
      .map((s) => ({ kind: 'malformed request', chunks: [s] })),
    fc.integer({ min: 60, max: 2000 }).map((n) => ({
      kind: 'header flood',
      chunks: [
        buildRequest('GET', '/v1/session', [
          ...base,
          ...Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v'] as [string, string]),
        ]),
      ],
    })),
    fc.constant({
      kind: 'one huge header',
      chunks: [
        buildRequest('GET', '/v1/session', [...base, ['authorization', `Bearer ${'A'.repeat(300_000)}`]]),
      ],
    }),
    fc.constant({
      kind: 'oversized body (declared)',
      chunks: [buildRequest('POST', '/v1/auth/login', [...base, ['content-length', '50000000']], '{"a":')],
      expect: 413,
    }),
    fc.integer({ min: 5000, max: 200_000 }).map((n) => ({
      kind: 'oversized body (sent)',
      chunks: [
        buildRequest(
          'POST',
          purchase,
          [...base, ['authorization', buyer], ['idempotency-key', 'big'], ['content-length', String(n + 2)]],
          `"${'q'.repeat(n)}"`,
        ),
      ],
      expect: 413,
    })),
    fc.constant({
      kind: 'slow-drip body',
      chunks: [
        buildRequest('POST', '/v1/auth/login', [...base, ['content-length', '60']]),
        '{"e',
        'mail"',
        ':"a@b.c",',
        '"pass',
      ],
      dripMs: 400,
      expect: 408,
    }),
    fc.constant({
      kind: 'short body (Content-Length lie)',
      chunks: [
        buildRequest(
          'POST',
          purchase,
          [...base, ['authorization', buyer], ['idempotency-key', 'short'], ['content-length', '500']],
          '{"qty":1}',
        ),
      ],
      expect: 408,
    }),
    fc.constant({
      kind: 'chunked body',
      chunks: [
        buildRequest('POST', '/v1/auth/login', [...base, ['transfer-encoding', 'chunked']]),
        '5\r\n{"ema\r\n',
        '0\r\n\r\n',
      ],
    }),
    fc
      .array(
        fc.oneof(
          fc.constant('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'),
          fc.string({ unit: 'binary', maxLength: 60 }),
        ),
        {
          minLength: 2,
          maxLength: 6,
        },
      )
      .map((parts) => ({ kind: 'pipelined junk', chunks: [parts.join('')] })),
    fc.constantFrom('\u0001', '\u0000', '\u001b[31m', 'a\u0008b', '\u007f').map((k) => ({
      kind: 'control chars in Idempotency-Key',
      chunks: [
        buildRequest(
          'POST',
          purchase,
          [...base, ['authorization', buyer], ['idempotency-key', k], ['content-length', '9']],
          '{"qty":1}',
        ),
      ],
    })),
  );
}

export async function fuzzSocket(t: FuzzTarget, budget: FuzzBudget, report: FuzzReport): Promise<void> {
  const probe = new StateProbe(t);
  const before = await probe.snapshot();
  const arb = socketCaseArb(t);
  const deadline = budget.seconds ? Date.now() + budget.seconds * 1000 : Number.POSITIVE_INFINITY;
  for (let i = 0; i < budget.numRuns && Date.now() < deadline; i += 8) {
    // Drawn batch by batch (seed + batch number): a long run never pre-generates cases it will not send.
    const batch = fc.sample(arb, { seed: budget.seed + i, numRuns: Math.min(8, budget.numRuns - i) });
    await Promise.all(
      batch.map(async (c) => {
        const r = await rawRequest({
          port: t.port,
          chunks: c.chunks,
          timeoutMs: c.expect ? 6000 : 2500,
          ...(c.dripMs ? { dripMs: c.dripMs } : {}),
        });
        report.socket.cases++;
        const what = `${c.kind}: ${JSON.stringify(String(c.chunks[0]).slice(0, 200))}`;
        if (r.status === 0) {
          report.socket.closedOrSilent++;
          if (c.expect) violate(report, 'hangs', `expected ${c.expect}, got ${r.outcome} <- ${what}`);
          return;
        }
        report.socket.answered++;
        // Pipelined requests get several answers: check each one.
        let rest = Buffer.from(r.raw, 'latin1');
        for (let k = 0; k < 10 && rest.length > 0; k++) {
          const one = parseResponse(rest);
          if (!one || one.status === 0) break;
          if (!one.headers['x-request-id'] && one.status >= 400 && one.status < 500)
            report.socket.parserRejections++;
          else checkAnswer(report, one.status, one.headers, one.body, what);
          const end = rest.indexOf('\r\n\r\n') + 4 + Number(one.headers['content-length'] ?? 0);
          rest = rest.subarray(end);
        }
      }),
    );
    await checkAlive(t, report, `socket batch ${i / 8 + 1}`);
  }
  const problems = diffSnapshots(before, await probe.snapshot());
  if (problems.length > 0) violate(report, 'stateChanges', `raw socket fuzz changed ${problems.join('; ')}`);
}
