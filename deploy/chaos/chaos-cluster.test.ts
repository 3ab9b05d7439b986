// The short version of `npm run chaos -- --scenarios cluster-master-kill`: a flash sale under a paced load
// through both edge processes, on a rig whose second shard is a Redis Cluster; one of its masters is killed
// with -9 part-way through. Only that master's cells notice (coded 503s with Retry-After) until its replica
// serves them; then the post-run checks (test-rig.ts): no oversell, nothing acknowledged lost, events once,
// the ledger balances.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useChaosRig } from './test-rig.ts';

const t = useChaosRig({ clusterShard: true });

test('a Redis Cluster master killed behind two edge processes under load: only its cells wait, nothing is lost', async () => {
  const r = await t.run('cluster-master-kill');
  const b = r.blast!;
  assert.ok(b.affectedUserShare > 0 && b.affectedUserShare < 0.6, JSON.stringify(b));
  assert.ok(
    (r.retries.CELL_UNAVAILABLE ?? 0) + (r.retries.BUSY ?? 0) > 0,
    `the kill was felt: ${JSON.stringify(r.retries)}`,
  );
  assert.equal(b.affectedCoded503Share, 1, "every failed try of the killed master's users was a coded 503");
  assert.equal(
    b.othersFailedDuring,
    0,
    `other cells' users were served throughout: ${JSON.stringify({ b, why: r.retryReasons })}`,
  );
  assert.ok(b.affectedRateAfter >= 0.95, "the promoted replica serves the killed master's cells");
  assert.equal(r.check.usersAboveLimit, 0);
});
