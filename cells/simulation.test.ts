import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { SimulationResult } from './simulation.ts';
import { simulate, usersPerSlot } from './simulation.ts';

test('50 cells, 200,000 users: balanced, movement near the ideal, blast radius one cell', () => {
  const r = simulate({ cells: 50, users: 200_000 });
  const { max, mean, min } = r.usersPerCell;
  assert.equal(mean, 4000);
  assert.ok(max / mean < 1.08, `max/mean ${max / mean}`);
  assert.ok(min / mean > 0.92, `min/mean ${min / mean}`);
  const [one, hundred] = r.add;
  assert.equal(one!.added, 1);
  assert.ok(Math.abs(one!.movedShare / one!.idealShare - 1) < 0.15, `add 1: ${one!.movedShare}`);
  assert.equal(hundred!.added, 100);
  assert.ok(
    Math.abs(hundred!.movedShare / hundred!.idealShare - 1) < 0.03,
    `add 100: ${hundred!.movedShare}`,
  );
  assert.ok(hundred!.maxOverMean < 1.15);
  assert.equal(r.blastRadius.othersMoved, 0);
  assert.ok(
    r.blastRadius.share > 0 && r.blastRadius.share <= r.blastRadius.target * 1.1,
    `${r.blastRadius.share}`,
  );
});

test('the simulation is repeatable: same seed, same users', () => {
  assert.deepEqual(usersPerSlot(10_000, 'random', 7), usersPerSlot(10_000, 'random', 7));
  assert.notDeepEqual(usersPerSlot(10_000, 'random', 7), usersPerSlot(10_000, 'random', 8));
});

test('simulate.ts prints JSON with --json', async () => {
  const script = fileURLToPath(new URL('./simulate.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--import',
    'tsx',
    script,
    '--cells',
    '20',
    '--users',
    '20000',
    '--add',
    '1,5',
    '--ids',
    'sequential',
    '--json',
  ]);
  const r = JSON.parse(stdout) as SimulationResult;
  assert.equal(r.cells, 20);
  assert.equal(r.ids, 'sequential');
  assert.deepEqual(
    r.add.map((a) => a.added),
    [1, 5],
  );
  assert.equal(r.usersPerCell.mean, 1000);
});
