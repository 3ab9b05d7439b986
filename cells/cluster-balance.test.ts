import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterBalance, masterOfSlot } from './cluster-balance.ts';
import { generateMap } from './generate.ts';

test('master ranges match redis-cli --cluster create for 3 masters', () => {
  assert.deepEqual(
    [0, 5460, 5461, 10922, 10923, 16383].map((s) => masterOfSlot(s, 3)),
    [0, 0, 1, 1, 2, 2],
  );
});

test('the 500-cell map on a 3-master cluster: every master carries a fair share of cells and users', () => {
  const map = generateMap({ cells: 500, shards: 1, redis: () => ({ cluster: ['redis://seed:6379'] }) });
  const b = clusterBalance(map, 3);
  assert.equal(
    b.perMaster.reduce((a, m) => a + m.cells, 0),
    500,
  );
  assert.ok(Math.abs(b.perMaster.reduce((a, m) => a + m.userShare, 0) - 1) < 1e-9);
  // CRC16 of "c<id>" spreads the tags like random draws: 500 cells over 3 masters stay within ~10% of the mean.
  assert.ok(b.maxOverMean < 1.1, JSON.stringify(b));
  for (const m of b.perMaster) assert.ok(m.cells > 140 && m.cells < 200, JSON.stringify(b));
});
