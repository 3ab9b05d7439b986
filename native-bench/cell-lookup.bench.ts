/**
 * Micro benchmark: user id -> cell -> shard on a 500-cell map (target >= 10M lookups/s), measured in
 * the same run as a peer (a prebuilt Map<string, number> from user id to cell) and a ceiling (a loop
 * that only reads the ids). Run: npx tsx native-bench/cell-lookup.bench.ts [--smoke]
 */
import { Bench } from 'tinybench';
import { createCellRouter, generateMap } from '../cells/index.ts';

const smoke = process.argv.includes('--smoke');
const TARGET = 10_000_000;
const IDS = 1 << 16;
const MASK = IDS - 1;
/** Lookups per task call, so the per-call timer overhead does not swamp a ~20 ns lookup. */
const BATCH = 1024;

const router = createCellRouter(generateMap({ cells: 500, shards: 10 }));

// Deterministic ids shaped like real ones: 12 base-36 chars.
let seed = 0x9e3779b9;
const nextRandom = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
};
const ids = Array.from({ length: IDS }, () => (nextRandom() * 4096 + (nextRandom() & 0xfff)).toString(36));
const numericIds = Array.from({ length: IDS }, () => nextRandom() * 1024 + (nextRandom() & 0x3ff));
const peer = new Map(ids.map((id) => [id, router.route(id)]));

let cursor = 0;
let sink = 0;

const bench = new Bench({
  name: 'cell lookup',
  time: smoke ? 50 : 1500,
  warmupTime: smoke ? 20 : 300,
  iterations: smoke ? 16 : 64,
  throws: true,
});

bench
  .add('router.shardOf(id): user -> cell -> shard', () => {
    const base = cursor;
    for (let i = 0; i < BATCH; i++) sink += router.shardOf(ids[(base + i) & MASK]!).id.length;
    cursor = (base + BATCH) & MASK;
  })
  .add('router.route(id): user -> serving cell', () => {
    const base = cursor;
    for (let i = 0; i < BATCH; i++) sink += router.route(ids[(base + i) & MASK]!);
    cursor = (base + BATCH) & MASK;
  })
  .add('router.routeNumber(id): numeric ids', () => {
    const base = cursor;
    for (let i = 0; i < BATCH; i++) sink += router.routeNumber(numericIds[(base + i) & MASK]!);
    cursor = (base + BATCH) & MASK;
  })
  .add('peer: Map<string, number>.get(id)', () => {
    const base = cursor;
    for (let i = 0; i < BATCH; i++) sink += peer.get(ids[(base + i) & MASK]!)!;
    cursor = (base + BATCH) & MASK;
  })
  .add('ceiling: read the id only', () => {
    const base = cursor;
    for (let i = 0; i < BATCH; i++) sink += ids[(base + i) & MASK]!.length;
    cursor = (base + BATCH) & MASK;
  });

await bench.run();

const opsPerSecond = new Map<string, number>();
for (const task of bench.tasks) {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
  opsPerSecond.set(task.name, (BATCH * 1000) / r.period);
}
const peerOps = opsPerSecond.get('peer: Map<string, number>.get(id)')!;
const ceilingOps = opsPerSecond.get('ceiling: read the id only')!;
const rows = [...opsPerSecond].map(([name, ops]) => ({
  task: name,
  'Mops/s': (ops / 1e6).toFixed(1),
  'ns/op': (1e9 / ops).toFixed(1),
  'x Map peer': (ops / peerOps).toFixed(2),
  'x ceiling': (ops / ceilingOps).toFixed(2),
  '>= 10M/s': name.startsWith('router') ? (ops >= TARGET ? 'yes' : 'NO') : '',
}));

console.log(
  `cell lookup, 500 cells / 10 shards, ${IDS} distinct ids, ${BATCH} lookups per call` +
    `${smoke ? ' (smoke: short run)' : ''}, node ${process.version}`,
);
console.table(rows);
if (sink === 0.5) console.log('unreachable: keeps the lookups observable');
