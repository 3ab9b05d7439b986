// Hostile input, short version: property-based fuzzing of every HTTP route from /v1/openapi.json, the
// raw socket and the WebSocket. No 5xx, every rejection a coded 4xx, nothing changed by a rejection, the
// edge alive throughout. Replay a failure with TITAN_FUZZ_SEED=<seed>; the full run is chaos-fuzz.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type FuzzTarget, startFuzzTarget } from './fuzz/fuzz-target.ts';
import { formatReport, violationCount } from './fuzz/report.ts';
import { runFuzz } from './fuzz/run-fuzz.ts';

const seed = Number(process.env.TITAN_FUZZ_SEED ?? Date.now() % 2 ** 31);
let t: FuzzTarget;
before(async () => {
  t = await startFuzzTarget();
});
after(() => t.stop());

test('hostile HTTP, socket and WebSocket input: no 5xx, coded 4xx, no state change by a rejection, no crash', async () => {
  const report = await runFuzz(t, { seed, http: 400, socket: 48, ws: 36, seconds: 45 });
  const table = formatReport(report);
  assert.equal(violationCount(report), 0, `fuzz failed; replay with TITAN_FUZZ_SEED=${seed}\n${table}`);
  assert.ok(report.http.requests >= 100, `too few HTTP cases ran (${report.http.requests})\n${table}`);
  assert.ok(report.http.byClass['2xx']! > 0, 'valid tokens and values must reach successful answers too');
  assert.ok(report.ws.replies > 0 && report.socket.cases > 0, table);
});
