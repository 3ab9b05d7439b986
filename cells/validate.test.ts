import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CellErrors } from './errors.ts';
import { generateMap } from './generate.ts';
import type { CellMap } from './schema.ts';
import { POOL_LIMITS } from './schema.ts';
import { cellMapProblems, validateCellMap } from './validate.ts';

function base(): CellMap {
  return generateMap({ cells: 4, shards: 2, name: 'test' });
}

/** The problems of the base map after `mutate`, as "path: message" lines. */
function problemsAfter(mutate: (m: CellMap) => void): string[] {
  const m = base();
  mutate(m);
  return cellMapProblems(m).map((p) => `${p.path}: ${p.message}`);
}

function assertProblem(mutate: (m: CellMap) => void, path: string, pattern: RegExp): void {
  const problems = problemsAfter(mutate);
  assert.ok(
    problems.some((p) => p.startsWith(`${path}: `) && pattern.test(p)),
    `expected ${path} ${pattern}, got:\n${problems.join('\n')}`,
  );
}

test('a generated map has no problems', () => {
  assert.deepEqual(cellMapProblems(base()), []);
});

test('unassigned slots are named as a range', () => {
  assertProblem(
    (m) => {
      m.slots[0]!.from = 10;
    },
    '/slots',
    /slots 0-9 unassigned/,
  );
});

test('doubly-assigned slots name both ranges', () => {
  assertProblem(
    (m) => {
      m.slots[1]!.from -= 5;
    },
    '/slots/1',
    /slots 4091-4095 also assigned by \/slots\/0 \(cell 0\)/,
  );
});

test('a range beyond the last slot or reversed is rejected', () => {
  assertProblem(
    (m) => {
      m.slots[3]!.to = 16384;
    },
    '/slots/3/to',
    /less or equal to 16383, got 16384/,
  );
  assertProblem(
    (m) => {
      m.slots.push({ from: 9, to: 3, cell: 0 });
    },
    '/slots/4',
    /from 9 is above to 3/,
  );
});

test('slots of an unknown cell are rejected', () => {
  assertProblem(
    (m) => {
      m.slots[2]!.cell = 77;
    },
    '/slots/2/cell',
    /unknown cell 77/,
  );
});

test('a cell on an unknown shard is rejected', () => {
  assertProblem(
    (m) => {
      m.cells[1]!.shard = 'nowhere';
    },
    '/cells/1/shard',
    /unknown shard "nowhere"/,
  );
});

test('a cell that is its own backup, or has an unknown backup, is rejected', () => {
  assertProblem(
    (m) => {
      m.cells[2]!.backup = 2;
    },
    '/cells/2/backup',
    /cell 2 is its own backup/,
  );
  assertProblem(
    (m) => {
      m.cells[2]!.backup = 40;
    },
    '/cells/2/backup',
    /unknown backup cell 40/,
  );
});

test('duplicate cell and shard ids are rejected', () => {
  assertProblem(
    (m) => {
      m.cells[3]!.id = 0;
    },
    '/cells/3/id',
    /cell 0 is also \/cells\/0/,
  );
  assertProblem(
    (m) => {
      m.shards[1]!.id = 's0';
    },
    '/shards/1/id',
    /shard "s0" is also \/shards\/0/,
  );
});

test('pool settings out of range name the setting', () => {
  assertProblem(
    (m) => {
      m.cells[0]!.pools.flashSale.minThreads = 8;
    },
    '/cells/0/pools/flashSale/minThreads',
    /minThreads 8 is above maxThreads 4/,
  );
  assertProblem(
    (m) => {
      m.cells[0]!.pools.inventory.batchMaxSize = 0;
    },
    '/cells/0/pools/inventory/batchMaxSize',
    /greater or equal to 1, got 0/,
  );
  assertProblem(
    (m) => {
      m.cells[0]!.pools.flashSale.batchMaxSize = POOL_LIMITS.batchMaxSize + 1;
    },
    '/cells/0/pools/flashSale/batchMaxSize',
    /less or equal to 1024/,
  );
  assertProblem(
    (m) => {
      m.cells[1]!.pools.fraud.maxThreads = 2.5;
    },
    '/cells/1/pools/fraud/maxThreads',
    /integer/,
  );
});

test('fraud thresholds must lie in [0, 1] with review below deny', () => {
  assertProblem(
    (m) => {
      m.cells[3]!.pools.fraud.reviewThreshold = 0.9;
      m.cells[3]!.pools.fraud.denyThreshold = 0.9;
    },
    '/cells/3/pools/fraud/reviewThreshold',
    /must be below denyThreshold 0.9/,
  );
  assertProblem(
    (m) => {
      m.cells[3]!.pools.fraud.denyThreshold = 1.5;
    },
    '/cells/3/pools/fraud/denyThreshold',
    /less or equal to 1/,
  );
});

test('unknown properties are rejected, so typos do not pass silently', () => {
  assertProblem(
    (m) => {
      (m.cells[0]!.pools.flashSale as Record<string, unknown>)['maxTreads'] = 3;
    },
    '/cells/0/pools/flashSale/maxTreads',
    /unexpected property/,
  );
});

test('shard URLs must be redis:// and postgres:// URLs or placeholders', () => {
  assertProblem(
    (m) => {
      m.shards[0]!.redis = { url: 'http://127.0.0.1:6379' };
    },
    '/shards/0/redis/url',
    /must start with redis:\/\/ or rediss:\/\//,
  );
  assertProblem(
    (m) => {
      m.shards[1]!.redis = { cluster: ['redis://a:7000', 'nonsense'] };
    },
    '/shards/1/redis/cluster/1',
    /is not a URL/,
  );
  assertProblem(
    (m) => {
      m.shards[0]!.redis = { host: 'x' } as never;
    },
    '/shards/0/redis',
    /"cluster"/,
  );
  assert.deepEqual(
    problemsAfter((m) => {
      m.shards[0]!.postgres.url = `\${TITAN_DATABASE_URL:-postgres://127.0.0.1/titan}`;
    }),
    [],
  );
});

test('a down cell whose whole backup chain is down is rejected', () => {
  assertProblem(
    (m) => {
      for (const c of m.cells) c.status = 'down';
    },
    '/cells/0/status',
    /nowhere to go/,
  );
  // A chain with one cell up is fine: 0 -> 1 (down) -> 2 (active).
  assert.deepEqual(
    problemsAfter((m) => {
      m.cells[0]!.status = 'down';
      m.cells[1]!.status = 'down';
    }),
    [],
  );
});

test('validateCellMap throws CELL_MAP_INVALID with every problem in details', () => {
  const m = base();
  m.cells[0]!.backup = 0;
  m.slots.pop();
  assert.throws(
    () => validateCellMap(m),
    (err: unknown) => {
      assert.ok(CellErrors.CELL_MAP_INVALID.is(err));
      assert.equal(err.status, 422);
      const problems = err.details?.['problems'] as { path: string }[];
      assert.deepEqual(
        problems.map((p) => p.path),
        ['/cells/0/backup', '/slots'],
      );
      assert.match(err.message, /\/cells\/0\/backup: cell 0 is its own backup/);
      return true;
    },
  );
});

test('input that is not a map at all is rejected at the root', () => {
  assert.ok(cellMapProblems(null).length > 0);
  assert.ok(cellMapProblems({ version: 1 }).some((p) => p.path === '/slots'));
});
