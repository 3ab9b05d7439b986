/**
 * Fuzzes every route of `/v1/openapi.json` (so a new route is fuzzed without touching this file):
 * path parameters (valid ids, schema values, hostile text), query strings, bodies (schema-edge values,
 * broken ones, garbage), and headers (Authorization absent/duplicated/garbage or a buyer's or operator's
 * valid token, Idempotency-Key, Content-Type, Content-Length lies). Requests go one at a time over raw
 * sockets; after each, the answer is checked and the state compared with the snapshot taken before.
 */
import fc from 'fast-check';
import {
  authorization,
  bodyText,
  contentTypes,
  idempotencyKeys,
  type JsonSchema,
  nastyString,
  pathSegment,
  queryString,
} from './arbitraries.ts';
import type { FuzzTarget } from './fuzz-target.ts';
import { buildRequest, rawRequest } from './raw-http.ts';
import { checkAnswer, type FuzzReport, statusClass, violate } from './report.ts';
import { diffSnapshots, StateProbe } from './state.ts';

export interface FuzzBudget {
  numRuns: number;
  /** Stop early after this many seconds (the runs done so far count). */
  seconds?: number;
  seed: number;
}

interface RouteSpec {
  method: string;
  template: string;
  pathParams: { name: string; schema: JsonSchema }[];
  queryParams: { name: string; schema: JsonSchema }[];
  body: JsonSchema | undefined;
  secured: boolean;
}

/** The routes the edge documents, plus unknown paths and wrong methods (404 / 405). */
export async function loadRoutes(t: FuzzTarget): Promise<RouteSpec[]> {
  const r = await t.h.call('GET', '/v1/openapi.json');
  if (r.status !== 200) throw new Error(`openapi.json: ${r.status}`);
  const routes: RouteSpec[] = [];
  for (const [template, ops] of Object.entries(r.body.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters ?? []) as { name: string; in: string; schema: JsonSchema }[];
      routes.push({
        method: method.toUpperCase(),
        template,
        pathParams: params.filter((p) => p.in === 'path'),
        queryParams: params.filter((p) => p.in === 'query'),
        body: op.requestBody?.content?.['application/json']?.schema,
        secured: Array.isArray(op.security) && op.security.length > 0,
      });
    }
  }
  const known = routes.map((x) => x.template);
  for (const template of ['/v1/nope', '/v1/flash-sales/{id}/nope', '/', '/v1/ws', '/internal/v1/flash-sales'])
    routes.push({
      method: 'GET',
      template,
      pathParams: [],
      queryParams: [],
      body: undefined,
      secured: false,
    });
  for (const method of ['DELETE', 'PUT', 'PATCH', 'POST', 'OPTIONS', 'HEAD', 'TRACE', 'FOO'])
    routes.push({
      method,
      template: known[0] ?? '/v1/session',
      pathParams: [],
      queryParams: [],
      body: undefined,
      secured: false,
    });
  return routes;
}

/**
 * Ids that exist, for a parameter of a route. Operators may change the victim sale, never the live
 * one (the purchase path must stay open while fuzzing).
 */
function validFor(t: FuzzTarget, route: RouteSpec, name: string): string[] {
  if (route.template.startsWith('/v1/admin/flash-sales') && route.method !== 'GET') return [t.victimSaleId];
  if (route.template.startsWith('/v1/flash-sales')) return [t.liveSaleId, t.victimSaleId];
  return t.validIds[name] ?? [];
}

interface Case {
  route: RouteSpec;
  segments: Record<string, string>;
  query: string;
  body: string | Buffer | undefined;
  auth: readonly string[];
  idem: readonly string[];
  ctype: readonly string[];
  lengthMode: 'exact' | 'absent' | 'smaller' | 'duplicate' | 'conflict' | 'garbage';
  extra: [string, string][];
}

/**
 * Cases aimed at the state-changing paths, mostly valid with one part hostile, so successes (counted
 * against the ledger and the users table) happen next to near-miss rejections: purchases and sign-ups.
 */
function focusedArb(t: FuzzTarget, routes: RouteSpec[]): fc.Arbitrary<Case> {
  const purchase = routes.find((r) => r.template === '/v1/flash-sales/{id}/purchase');
  const register = routes.find((r) => r.template === '/v1/auth/register' && r.method === 'POST');
  const parts: fc.Arbitrary<Case>[] = [];
  if (purchase)
    parts.push(
      fc
        .tuple(
          genericArb(t, [purchase]),
          fc.record({
            id: fc.oneof(
              { weight: 6, arbitrary: fc.constant(t.liveSaleId) },
              { weight: 1, arbitrary: fc.constant(t.victimSaleId) },
            ),
            qty: fc.oneof(
              { weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }) },
              { weight: 1, arbitrary: fc.constantFrom(0, -1, 6, 1.5, 2 ** 53, '1', null) },
            ),
            buyer: fc.constantFrom(...t.buyers.map((b) => b.token)),
            key: fc.oneof(
              { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9]{1,12}$/) },
              { weight: 1, arbitrary: fc.constantFrom('', 'a b', 'k'.repeat(129), 'ключ') },
            ),
            keep: fc.constantFrom('auth', 'idem', 'body', 'length', 'none', 'none', 'none', 'none'),
          }),
        )
        .map(([c, f]) => ({
          ...c,
          segments: { ...c.segments, id: f.id },
          query: '',
          // Everything valid except (sometimes) the one part kept from the generic hostile case.
          auth: f.keep === 'auth' ? c.auth : [`Bearer ${f.buyer}`],
          idem: f.keep === 'idem' ? c.idem : [`fz-${f.key}`],
          body: f.keep === 'body' ? c.body : JSON.stringify({ qty: f.qty }),
          lengthMode: f.keep === 'length' ? c.lengthMode : 'exact',
          ctype: ['application/json'],
          extra: [],
        })),
    );
  if (register)
    parts.push(
      fc
        .tuple(genericArb(t, [register]), fc.stringMatching(/^[a-z0-9]{1,20}$/), nastyString)
        .map(([c, local, password]) => ({
          ...c,
          auth: [],
          query: '',
          body: JSON.stringify({ email: `fz${local}@example.com`, password: password || 'pw' }),
          lengthMode: 'exact' as const,
          ctype: ['application/json'],
          extra: [],
        })),
    );
  return parts.length > 0 ? fc.oneof(...parts) : genericArb(t, routes);
}

function caseArb(t: FuzzTarget, routes: RouteSpec[]): fc.Arbitrary<Case> {
  const generic = genericArb(t, routes);
  return fc.oneof({ weight: 4, arbitrary: generic }, { weight: 1, arbitrary: focusedArb(t, routes) });
}

function genericArb(t: FuzzTarget, routes: RouteSpec[]): fc.Arbitrary<Case> {
  const tokens = [...t.buyers.map((b) => b.token), t.operator.token];
  const operatorFirst = [t.operator.token, t.operator.token, t.buyers[0]!.token];
  return fc.constantFrom(...routes).chain((route) => {
    const segments: Record<string, fc.Arbitrary<string>> = {};
    for (const p of route.pathParams) segments[p.name] = pathSegment(p.schema, validFor(t, route, p.name));
    for (const m of route.template.matchAll(/\{(\w+)\}/g))
      segments[m[1]!] ??= pathSegment(undefined, validFor(t, route, m[1]!));
    const admin = route.template.startsWith('/v1/admin');
    return fc.record({
      route: fc.constant(route),
      segments: fc.record(segments),
      query: queryString(route.queryParams),
      body:
        route.method === 'GET' ? fc.oneof(fc.constant(undefined), bodyText(undefined)) : bodyText(route.body),
      auth: authorization(admin ? operatorFirst : tokens),
      idem: idempotencyKeys,
      ctype: contentTypes,
      lengthMode: fc.oneof(
        { weight: 10, arbitrary: fc.constant('exact' as const) },
        { weight: 5, arbitrary: fc.constantFrom('absent', 'smaller', 'duplicate', 'conflict', 'garbage') },
      ),
      extra: fc.array(
        fc.tuple(
          fc.constantFrom(
            'x-request-id',
            'if-match',
            'x-forwarded-for',
            'traceparent',
            'accept',
            'cookie',
            'host',
            'expect',
          ),
          nastyString,
        ),
        { maxLength: 3 },
      ),
    });
  });
}

/** Header values cannot carry CR/LF here (that would be another request); other controls stay. */
const headerSafe = (v: string) => v.replace(/[\r\n]/g, '');
// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting them is the point
const PROTOCOL_INVALID = /[\u0000-\u0008\u000a-\u001f]/;
const UWS_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

function render(c: Case) {
  let path = c.route.template.replace(/\{(\w+)\}/g, (_m, name: string) => c.segments[name] ?? 'x');
  if (c.query) path += `?${c.query}`;
  const headers: [string, string][] = [['host', '127.0.0.1']];
  for (const a of c.auth) headers.push(['authorization', headerSafe(a)]);
  for (const k of c.idem) headers.push(['idempotency-key', headerSafe(k)]);
  for (const ct of c.ctype) headers.push(['content-type', headerSafe(ct)]);
  for (const [k, v] of c.extra) headers.push([k, headerSafe(v)]);
  // Cell-map writes by an operator always carry a stale If-Match: schema-valid ones are then refused by
  // compare-and-set (what is fuzzed is everything before it), instead of reshaping the cells mid-run.
  if (c.route.template.startsWith('/v1/admin/cells') && c.route.method !== 'GET') {
    for (let i = headers.length - 1; i >= 0; i--) if (headers[i]![0] === 'if-match') headers.splice(i, 1);
    headers.push(['if-match', '"0"']);
  }
  const body = c.body === undefined ? undefined : Buffer.from(c.body);
  // uWS closes the connection on these without answering (its parser's limits, not the edge's code):
  // control characters in a header, methods it does not know, and (below) body bytes it cannot frame,
  // which it reads as a pipelined request and refuses as a whole.
  let malformed =
    headers.some(([, v]) => PROTOCOL_INVALID.test(v)) ||
    PROTOCOL_INVALID.test(path) ||
    !UWS_METHODS.has(c.route.method);
  if (body !== undefined) {
    const n = body.length;
    switch (c.lengthMode) {
      case 'exact':
        headers.push(['content-length', String(n)]);
        break;
      case 'absent':
        malformed ||= n > 0;
        break;
      case 'smaller':
        headers.push(['content-length', String(Math.max(0, n - 3))]);
        malformed ||= n > 0;
        break;
      case 'duplicate':
        headers.push(['content-length', String(n)], ['content-length', String(n)]);
        break;
      case 'conflict':
        headers.push(['content-length', String(n)], ['content-length', String(n + 1)]);
        malformed = true;
        break;
      case 'garbage':
        headers.push(['content-length', `${n}abc`]);
        malformed = true;
        break;
    }
  }
  // uWS resets a connection whose request head passes its limit (about 128 KiB here), unanswered.
  const headBytes = path.length + headers.reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v) + 4, 0);
  if (headBytes > 64 * 1024) malformed = true;
  // Stray bytes after a body (absent or short Content-Length) are read as a next, pipelined request.
  return { bytes: buildRequest(c.route.method, path, headers, body), malformed, path };
}

const describeCase = (c: Case, path: string) =>
  JSON.stringify({
    method: c.route.method,
    path: path.slice(0, 300),
    auth: c.auth.map((a) => a.slice(0, 40)),
    idem: c.idem.map((k) => k.slice(0, 40)),
    ctype: c.ctype,
    lengthMode: c.lengthMode,
    body: c.body === undefined ? undefined : String(c.body).slice(0, 300),
  });

/** Proves the edge is alive and answering: /health 200 within 3 s. */
export async function checkAlive(t: FuzzTarget, report: FuzzReport, after: string): Promise<boolean> {
  const r = await rawRequest({
    port: t.port,
    chunks: [buildRequest('GET', '/health', [['host', 'x']])],
    timeoutMs: 3000,
  });
  if (r.status === 200) return true;
  violate(report, 'crashes', `/health answered ${r.status} (${r.outcome}) after ${after}`);
  return false;
}

/** Waits (up to 3 s) until the edge serves no request and its engines hold no pending work. */
async function quiesce(t: FuzzTarget): Promise<void> {
  const edge = t.h.edge;
  for (let i = 0; i < 300; i++) {
    const pending = edge.engine.stats().reduce((n, s) => n + s.pendingRequests + s.inFlightTasks, 0);
    if (pending === 0 && edge.server.inFlight === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function fuzzHttp(t: FuzzTarget, budget: FuzzBudget, report: FuzzReport): Promise<void> {
  const routes = await loadRoutes(t);
  const probe = new StateProbe(t);
  const seenReservations = new Set<string>();
  let before = await probe.snapshot();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(caseArb(t, routes), async (c) => {
      const { bytes, malformed, path } = render(c);
      const r = await rawRequest({ port: t.port, chunks: [bytes], timeoutMs: malformed ? 300 : 10_000 });
      report.http.requests++;
      report.http.byClass[statusClass(r.status)] = (report.http.byClass[statusClass(r.status)] ?? 0) + 1;
      const what = describeCase(c, path);
      let verdict: 'ok' | 'rejected' | 'bad' = 'rejected';
      if (r.status === 0) {
        if (!malformed) violate(report, 'hangs', `no answer (${r.outcome}) <- ${what}`);
      } else if (!r.headers['x-request-id'] && malformed && r.status >= 400 && r.status < 500) {
        report.socket.parserRejections++;
      } else {
        verdict = checkAnswer(report, r.status, r.headers, r.body, what);
      }
      // A request the client gave up on (malformed framing, no answer read) may still be running in
      // the edge or its engine: let it land before comparing, or its effect is blamed on the next case.
      if (r.status === 0) await new Promise((res) => setTimeout(res, 100)); // e.g. still verifying its token
      await quiesce(t);
      // State: a rejection changes nothing; a purchase moves the ledger by its quantity; a 201
      // registration adds one user; other successes are legitimate changes, taken as the new baseline.
      const after = await probe.snapshot();
      const isPurchase = c.route.template === '/v1/flash-sales/{id}/purchase';
      if (verdict === 'ok') {
        let taken = 0;
        let usersAdded = 0;
        if (isPurchase && r.status === 200) {
          const body = JSON.parse(r.body) as { reservationId: string; qty: number };
          if (!seenReservations.has(body.reservationId)) {
            seenReservations.add(body.reservationId);
            taken = body.qty;
            report.purchases++;
          }
        }
        if (c.route.template === '/v1/auth/register' && r.status === 201) {
          usersAdded = 1;
          report.registrations++;
        }
        const problems = diffSnapshots(before, after, { usersAdded, taken, userFields: true }).filter(
          (p) => !p.startsWith('table ') || c.route.method === 'GET',
        );
        if (problems.length > 0)
          violate(report, 'stateChanges', `${r.status} success changed ${problems.join('; ')} <- ${what}`);
      } else if (r.status !== 0) {
        // (No answer read: a well-formed request followed by its own garbage bytes may have been served
        // before the parser closed the connection on the garbage, so its effect is no rejection's.)
        const problems = diffSnapshots(before, after, { userFields: isPurchase && r.status === 409 });
        if (problems.length > 0)
          violate(
            report,
            'stateChanges',
            `${r.status} ${r.body.slice(0, 120)}: ${problems.join('; ')} <- ${what}`,
          );
      }
      before = after;
      if (++n % 25 === 0) await checkAlive(t, report, `${n} HTTP cases`);
      return true;
    }),
    {
      seed: budget.seed,
      numRuns: budget.numRuns,
      endOnFailure: true,
      ...(budget.seconds
        ? { interruptAfterTimeLimit: budget.seconds * 1000, markInterruptAsFailure: false }
        : {}),
    },
  );
  await checkAlive(t, report, 'the HTTP fuzz');
}
