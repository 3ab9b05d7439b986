// The short version of `npm run chaos -- --scenarios cluster-failover`: a Redis Cluster master killed with -9
// during purchases, once with WAIT after each batch (the default) and once without.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterFailover } from './cluster-failover.ts';

test('a cluster master killed under load: its replica takes over, other cells never fail, with WAIT nothing acknowledged is lost', async () => {
  const report = await clusterFailover({ rounds: 1, seconds: 8, concurrency: 12, log: () => {} });
  assert.equal(report.runs.length, 2);
  for (const r of report.runs) {
    assert.ok(r.acknowledged > 0, `purchases were reserved: ${JSON.stringify(r)}`);
    assert.notEqual(r.unavailableMs, null, 'the failed slots were served again after the failover');
    assert.ok(r.unavailableMs! > 0);
    // only the failed master's cells notice: every other cell's buyer is served throughout
    assert.equal(r.otherCellsFailures, 0, `other masters' cells: ${JSON.stringify(r.otherCellsAnswers)}`);
  }
  const waited = report.runs.find((r) => r.wait)!;
  assert.equal(waited.acknowledgedLost, 0, JSON.stringify(waited));
});
