// The short version of `npm run chaos`'s fault scenarios: every fault on the real processes (two edge
// processes, the flash-sale service, the relay, two Redis shards of its own) under a paced load of 2,000
// purchase attempts, then the post-run checks read from Redis, the bus and the control plane.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BenchUser, benchUsers } from '../../native-bench/lib/users.ts';
import { createTestDatabase, stackSetting, type TestDatabase } from '../../services/kit/testing.ts';
import { ChaosRig } from './rig.ts';
import { SHORT } from './run.ts';
import { measureAofThroughput, runScenario, type ScenarioName, type ScenarioResult } from './scenarios.ts';

let db: TestDatabase;
let dir: string;
let rig: ChaosRig;
let users: BenchUser[];
const log = process.env.TITAN_TEST_LOG_LEVEL ? (m: string) => console.error(`[chaos] ${m}`) : () => {};

before(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'titan-chaos-test-'));
  rig = await ChaosRig.start({
    dataDir: dir,
    cells: 4,
    appendFsync: 'everysec',
    log,
    external: { redisUrl: stackSetting('TITAN_REDIS_URL'), databaseUrl: db.url },
  });
  users = await benchUsers({
    authUrl: rig.stack.authUrl,
    dataDir: dir,
    count: SHORT.users,
    minValidMs: 600_000,
    log,
  });
});

after(async () => {
  await rig?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function run(scenario: ScenarioName): Promise<ScenarioResult> {
  const r = await runScenario(rig, scenario, users, SHORT, log);
  const c = r.check;
  assert.deepEqual(r.failures, [], `${scenario}: ${r.failures.join('; ')}`);
  assert.equal(c.oversold, 0);
  assert.equal(c.acknowledgedLost, 0);
  assert.equal(c.eventsMissing, 0);
  assert.equal(c.eventsDuplicated, 0);
  assert.equal(c.ledgerBalanced, true);
  assert.equal(r.answered, r.attempts, 'every attempt got a final answer');
  assert.ok(r.acknowledged > 0);
  assert.equal(c.acknowledged, r.acknowledged);
  assert.notEqual(r.recoveryMs, null);
  return r;
}

describe('faults under load: no oversell, nothing acknowledged lost, the ledger balances', () => {
  test('worker threads killed in the middle of batches: callers are told to retry and their retries land once', async () => {
    const r = await run('worker-kill');
    assert.equal(r.check.usersAboveLimit, 0);
    assert.ok((r.retries.BUSY ?? 0) > 0, `the kills were felt: ${JSON.stringify(r.retries)}`);
  });

  test('an edge process killed: the other serves, clients retry the same key on a new connection', async () => {
    const r = await run('edge-kill');
    assert.equal(r.check.usersAboveLimit, 0);
    assert.equal(rig.edgePids().length, 2, 'the supervisor replaced it');
    assert.ok(!rig.edgePids().includes(Number(r.fault.notes.killedPid)));
    assert.equal(r.finals.SALE_NOT_FOUND, undefined, 'a fresh edge process knows the live sale');
  });

  test('a shard killed with -9 and restarted from its AOF, under each fsync policy', async () => {
    const aof = await measureAofThroughput(rig, users, 600, 1);
    assert.ok(aof.everysec > 0 && aof.always > 0);
    for (const scenario of ['redis-restart-everysec', 'redis-restart-always'] as const) {
      const r = await run(scenario);
      assert.equal(r.check.usersAboveLimit, 0);
      assert.ok((r.retries.CELL_UNAVAILABLE ?? 0) + (r.retries.BUSY ?? 0) > 0, 'the restart was felt');
    }
  });

  test('the relay killed and restarted: every acknowledged reservation reaches the bus once', async () => {
    const r = await run('relay-kill');
    assert.equal(r.check.usersAboveLimit, 0);
    assert.ok(Number(r.fault.notes.relayCatchUpMs) > 0);
  });

  test('a shard stopped: only its cells answer 503 CELL_UNAVAILABLE; after `titan cells failover` their backups serve', async () => {
    const r = await run('shard-failover');
    const b = r.blast!;
    assert.ok(b.affectedUserShare > 0.2 && b.affectedUserShare < 0.8);
    assert.ok(b.affectedUnavailableShare >= 0.9);
    assert.equal(b.affectedCoded503Share, 1);
    assert.ok(b.othersRateDuring >= b.othersRateBefore - 0.02);
    assert.ok(b.affectedRateAfter >= 0.95);
    assert.ok(rig.map.cells.filter((c) => c.status === 'down').length > 0);
  });
});
