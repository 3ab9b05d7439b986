/** Runs the three fuzzers against one target and returns the report (shared by the test and chaos). */

import { fuzzHttp } from './fuzz-http.ts';
import { fuzzSocket } from './fuzz-socket.ts';
import type { FuzzTarget } from './fuzz-target.ts';
import { fuzzWs } from './fuzz-ws.ts';
import { emptyReport, type FuzzReport } from './report.ts';

export interface FuzzPlan {
  seed: number;
  http: number;
  socket: number;
  ws: number;
  /** Wall-clock budget split 60/20/20 across HTTP, socket and WebSocket; unlimited when absent. */
  seconds?: number;
}

export async function runFuzz(t: FuzzTarget, plan: FuzzPlan): Promise<FuzzReport> {
  const report = emptyReport(plan.seed);
  const started = Date.now();
  const part = (share: number) => (plan.seconds ? { seconds: plan.seconds * share } : {});
  await fuzzHttp(t, { seed: plan.seed, numRuns: plan.http, ...part(0.6) }, report);
  await fuzzSocket(t, { seed: plan.seed, numRuns: plan.socket, ...part(0.2) }, report);
  await fuzzWs(t, { seed: plan.seed, numRuns: plan.ws, ...part(0.2) }, report);
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
