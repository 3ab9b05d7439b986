// The bench harness end to end in smoke mode (`run.ts purchase status --smoke`) against the test stack's Redis
// and a private database: the platform processes, the Fastify peer, both load generators, the ceilings and
// the report writer all run, and the JSON and Markdown they write are well-formed. No timing is asserted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createTestDatabase, stackSetting, type TestDatabase } from '../services/kit/testing.ts';
import type { BenchDocument } from './report/document.ts';
import { documentProblems } from './report/write.ts';

const execFileAsync = promisify(execFile);
let db: TestDatabase;
let dir: string;
before(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'titan-bench-smoke-test-'));
});
after(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('a smoke run of purchase and status writes a well-formed report with subject, peer and ceilings', async () => {
  const out = join(dir, 'results');
  const r = await execFileAsync(
    process.execPath,
    [
      '--import',
      'tsx',
      'native-bench/run.ts',
      'purchase',
      'status',
      '--smoke',
      '--out',
      out,
      '--data-dir',
      join(dir, 'data'),
    ],
    {
      cwd: new URL('../', import.meta.url),
      encoding: 'utf8',
      timeout: 150_000,
      env: {
        ...process.env,
        TITAN_BENCH_REDIS_URL: stackSetting('TITAN_REDIS_URL'),
        TITAN_BENCH_DATABASE_URL: db.url,
      },
    },
  );
  const [jsonFile, mdFile] = r.stdout.trim().split('\n');
  assert.ok(jsonFile && existsSync(jsonFile), `JSON written (stderr: ${r.stderr.slice(-2000)})`);
  assert.ok(mdFile && existsSync(mdFile), 'Markdown written');
  const doc = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchDocument;
  assert.deepEqual(documentProblems(doc), []);
  assert.equal(doc.smoke, true);
  const has = (scenario: string, target: string, generator: string, variant?: string) =>
    doc.records.some(
      (x) =>
        x.scenario === scenario &&
        x.target.startsWith(target) &&
        x.generator === generator &&
        (variant === undefined || x.variant === variant),
    );
  for (const g of ['wrk', 'autocannon']) {
    assert.ok(has('purchase', 'edge', g, 'reserve'), `edge purchase by ${g}`);
    assert.ok(has('purchase', 'fastify-peer', g, 'reserve'), `peer purchase by ${g}`);
    assert.ok(has('http-ceiling', 'uws-hello', g), `hello ceiling by ${g}`);
    assert.ok(has('status', 'edge', g), `status by ${g}`);
  }
  assert.ok(has('purchase', 'redis-benchmark', 'redis-benchmark', 'redis-only'), 'redis-benchmark ceiling');
  assert.ok(has('purchase', 'edge', 'wrk', 'sold-out') && has('purchase', 'fastify-peer', 'wrk', 'sold-out'));
  // The runs measured what they claim: reservations on the reservation path, none once sold out.
  const edgeReserve = doc.records.find((x) => x.target === 'edge' && x.variant === 'reserve')!;
  assert.ok(edgeReserve.outcome!.reserved! > 0, 'the edge reserved units');
  const peerReserve = doc.records.find((x) => x.target === 'fastify-peer' && x.variant === 'reserve')!;
  assert.ok(peerReserve.outcome!.reserved! > 0, 'the peer reserved units');
  assert.ok(peerReserve.redis!.evalshaPerRequest > 0, 'the peer ran the purchase script');
  for (const x of doc.records.filter((y) => y.variant === 'sold-out')) {
    assert.equal(x.outcome!.reserved, 0);
    assert.ok(x.outcome!.soldOut! > 0);
  }
  assert.ok(
    doc.targets.some((t) => t.scenario === 'purchase') && doc.targets.some((t) => t.scenario === 'status'),
  );
  const md = readFileSync(mdFile, 'utf8');
  assert.match(md, /## purchase/);
  assert.match(md, /\| run \| role \| generator \|/);
  const svgs = readdirSync(out).filter((f) => f.endsWith('.svg'));
  assert.deepEqual(svgs.sort(), ['latest-cpu.svg', 'latest-latency.svg', 'latest-throughput.svg']);
  for (const f of svgs) assert.match(readFileSync(join(out, f), 'utf8'), /^<svg[^>]*>[\s\S]*<\/svg>$/);
});
