/**
 * The chaos rig for a test file: started in `before` (on the test stack's Redis and a database of its own),
 * stopped in `after`. Each chaos test file gets its own rig, so a file stays well within the runner's
 * per-file timeout on a loaded machine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { type BenchUser, benchUsers } from '../../native-bench/lib/users.ts';
import { createTestDatabase, stackSetting, type TestDatabase } from '../../services/kit/testing.ts';
import { ChaosRig } from './rig.ts';
import { SHORT } from './run.ts';
import { runScenario, type ScenarioName, type ScenarioResult } from './scenarios.ts';

export interface TestRig {
  rig: ChaosRig;
  users: BenchUser[];
  /** Runs a scenario at npm test's size and asserts what must hold after every run. */
  run(scenario: ScenarioName): Promise<ScenarioResult>;
}

/** `clusterShard`: shard s1 is a Redis Cluster (6 cells then, so that a master's cells are not all the pool's). */
export function useChaosRig(options: { clusterShard?: boolean } = {}): TestRig {
  let db: TestDatabase;
  let dir: string;
  const log = process.env.TITAN_TEST_LOG_LEVEL ? (m: string) => console.error(`[chaos] ${m}`) : () => {};
  const t: TestRig = {
    rig: undefined as unknown as ChaosRig,
    users: [],
    async run(scenario) {
      const r = await runScenario(t.rig, scenario, t.users, SHORT, log);
      const c = r.check;
      assert.deepEqual(
        r.failures,
        [],
        `${scenario}: ${r.failures.join('; ')} ${JSON.stringify({ retries: r.retryReasons, blast: r.blast, fault: r.fault })}`,
      );
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
    },
  };
  before(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'titan-chaos-test-'));
    t.rig = await ChaosRig.start({
      dataDir: dir,
      cells: options.clusterShard ? 6 : 4,
      appendFsync: 'everysec',
      ...(options.clusterShard ? { clusterShard: true } : {}),
      log,
      external: { redisUrl: stackSetting('TITAN_REDIS_URL'), databaseUrl: db.url },
    });
    t.users = await benchUsers({
      authUrl: t.rig.stack.authUrl,
      dataDir: dir,
      count: SHORT.users,
      minValidMs: 600_000,
      log,
    });
  });
  after(async () => {
    await t.rig?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  return t;
}
