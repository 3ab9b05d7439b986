// The short version of `npm run chaos`'s Redis faults: a shard killed with -9 and restarted under each AOF
// fsync policy, and a shard stopped then failed over with `titan cells failover`, under a paced load of 2,000
// purchase attempts; then the post-run checks (test-rig.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { measureAofThroughput } from './scenarios.ts';
import { useChaosRig } from './test-rig.ts';

const t = useChaosRig();

describe('Redis shards failing under load: no oversell, nothing acknowledged lost, the ledger balances', () => {
  test('a shard killed with -9 and restarted from its AOF, under each fsync policy', async () => {
    const aof = await measureAofThroughput(t.rig, t.users, 600, 1);
    assert.ok(aof.everysec > 0 && aof.always > 0);
    for (const scenario of ['redis-restart-everysec', 'redis-restart-always'] as const) {
      const r = await t.run(scenario);
      assert.equal(r.check.usersAboveLimit, 0);
      assert.ok((r.retries.CELL_UNAVAILABLE ?? 0) + (r.retries.BUSY ?? 0) > 0, 'the restart was felt');
    }
  });

  test('a shard stopped: only its cells answer 503 CELL_UNAVAILABLE; after `titan cells failover` their backups serve', async () => {
    const r = await t.run('shard-failover');
    const b = r.blast!;
    assert.ok(b.affectedUserShare > 0.2 && b.affectedUserShare < 0.8);
    assert.ok(b.affectedUnavailableShare >= 0.9);
    assert.equal(b.affectedCoded503Share, 1);
    assert.ok(b.othersRateDuring >= b.othersRateBefore - 0.02);
    assert.ok(b.affectedRateAfter >= 0.95);
    assert.ok(t.rig.map.cells.filter((c) => c.status === 'down').length > 0);
  });
});
