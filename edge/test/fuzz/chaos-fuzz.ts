/**
 * The full hostile-input run: `npx tsx edge/test/fuzz/chaos-fuzz.ts [--seconds N] [--seed S]`.
 * Fuzzes HTTP routes, the raw socket and WebSockets for the given time, prints the table of figures and
 * exits 1 when an invariant broke. Without a test stack in the environment (TITAN_REDIS_URL...) it starts
 * a private one (TITAN_TEST_DATA_DIR / _REDIS_PORT / _PG_PORT) and removes it afterwards.
 */
import { fileURLToPath } from 'node:url';
import { testStackSettings } from '../../../deploy/local/settings.ts';
import { LocalStack, stackEnv } from '../../../deploy/local/stack.ts';
import { startFuzzTarget } from './fuzz-target.ts';
import { type FuzzReport, formatReport, violate, violationCount } from './report.ts';
import { runFuzz } from './run-fuzz.ts';

export interface FuzzChaosOptions {
  seconds?: number;
  seed?: number;
  /** Print the table (default true). */
  print?: boolean;
}

export async function runFuzzChaos(opts: FuzzChaosOptions = {}): Promise<FuzzReport> {
  const seconds = opts.seconds ?? 120;
  const seed = opts.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  let stack: LocalStack | undefined;
  if (!process.env.TITAN_REDIS_URL) {
    stack = new LocalStack(testStackSettings());
    Object.assign(process.env, stackEnv(await stack.start()));
  }
  const crashes: string[] = [];
  const onCrash = (err: unknown) => crashes.push(String((err as Error)?.stack ?? err));
  process.on('uncaughtException', onCrash).on('unhandledRejection', onCrash);
  try {
    const t = await startFuzzTarget({ buyers: 8 });
    let report: FuzzReport;
    try {
      // Case counts far above what the time allows: the clock ends each phase.
      report = await runFuzz(t, { seed, seconds, http: 1_000_000, socket: 100_000, ws: 100_000 });
    } finally {
      await t.stop();
    }
    for (const c of crashes) violate(report, 'crashes', `uncaught: ${c}`);
    if (opts.print ?? true) console.log(formatReport(report));
    return report;
  } finally {
    process.off('uncaughtException', onCrash).off('unhandledRejection', onCrash);
    if (stack) await stack.reset().catch(() => {});
  }
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`${name} needs a number`);
  return v;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const seconds = arg('--seconds');
  const seed = arg('--seed');
  runFuzzChaos({
    ...(seconds === undefined ? {} : { seconds }),
    ...(seed === undefined ? {} : { seed }),
  }).then(
    (r) => process.exit(violationCount(r) === 0 ? 0 : 1),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
