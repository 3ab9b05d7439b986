/**
 * `npm test`'s runner: starts a private test stack (its own data dir and ports, so it never touches a
 * dev stack), runs every `*.test.ts` with Node's test runner against it, and tears the stack down.
 * `npm test -- lua cells` runs only the test files whose path contains one of the words.
 * TITAN_TEST_KEEP=1 keeps the stack and its data after the run, for debugging.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testStackSettings } from '../local/settings.ts';
import { LocalStack, stackEnv } from '../local/stack.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PARTS = ['services', 'lua', 'cells', 'engine', 'edge', 'deploy', 'native-bench'];

function findTests(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) findTests(path, out);
    else if (entry.name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const files = PARTS.flatMap((p) => findTests(join(root, p))).filter(
    (f) => filters.length === 0 || filters.some((w) => f.includes(w)),
  );
  if (files.length === 0) {
    console.error(`no test files match ${filters.join(' ')}`);
    return 1;
  }
  const stack = new LocalStack(testStackSettings());
  const keep = process.env.TITAN_TEST_KEEP === '1';
  await stack.reset();
  let code = 1;
  try {
    const info = await stack.start();
    const env = {
      ...process.env,
      ...stackEnv(info),
      TITAN_TEST_DATA_DIR: info.dataDir,
      TITAN_LOG_LEVEL: process.env.TITAN_LOG_LEVEL ?? 'silent',
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    };
    const args = [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      `--test-concurrency=${process.env.TITAN_TEST_CONCURRENCY ?? '2'}`,
      '--test-timeout=300000',
      ...files,
    ];
    code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
      const forward = (s: NodeJS.Signals) => child.kill(s);
      process.on('SIGINT', forward).on('SIGTERM', forward);
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
  } finally {
    if (keep) console.error(`[test] stack kept: ${testStackSettings().dataDir}`);
    else
      await stack.reset().catch((err) => console.error(`[test] teardown failed: ${(err as Error).message}`));
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: Error & { code?: string }) => {
    console.error(`[test] ${err.code ? `${err.code}: ` : ''}${err.message}`);
    process.exit(1);
  },
);
