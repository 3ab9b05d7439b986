/**
 * Micro benchmark: fraud scoring (target well under 20 us per score, ideally ~1 us), measured in the same
 * run as its peer (feature extraction alone, which every score pays) and a ceiling (a dot product of the
 * model's length over a precomputed feature row, i.e. the arithmetic a linear model cannot avoid).
 * Run: npx tsx native-bench/fraud-score.bench.ts [--smoke]
 */
import { Bench } from 'tinybench';
import { generateDataset } from '../engine/fraud/generate-data.ts';
import { extractFeatures, FEATURE_COUNT, type FraudInput, loadFraudModel } from '../engine/fraud/index.ts';

const smoke = process.argv.includes('--smoke');
const TARGET_NS = 20_000;
const INPUTS = 4096;
const MASK = INPUTS - 1;
const BATCH = 64;
/** Scores per task call, so the timer overhead does not swamp a sub-microsecond score. */
const PER_CALL = 256;

const model = loadFraudModel();
const thresholds = model.defaultThresholds;
// Realistic inputs, 30% fraud so every branch of the reason selection is exercised.
const inputs: FraudInput[] = generateDataset({ seed: 4242, size: INPUTS, fraudRate: 0.3 }).map((e) => ({
  request: e.request,
  velocity: e.velocity,
}));
const batches: FraudInput[][] = [];
for (let i = 0; i < INPUTS; i += BATCH) batches.push(inputs.slice(i, i + BATCH));
const rows = new Float64Array(INPUTS * FEATURE_COUNT);
inputs.forEach((x, i) => {
  extractFeatures(x.request, x.velocity, rows, i * FEATURE_COUNT);
});
const weights = Float64Array.from(
  { length: FEATURE_COUNT },
  (_, j) => model.file.weights[j]! / model.file.std[j]!,
);
const scratch = new Float64Array(FEATURE_COUNT);

let cursor = 0;
let sink = 0;

const bench = new Bench({
  name: 'fraud score',
  time: smoke ? 50 : 1500,
  warmupTime: smoke ? 20 : 300,
  iterations: smoke ? 16 : 64,
  throws: true,
});

const SINGLE = 'model.score(request, velocity, thresholds)';
const BATCHED = `model.scoreBatch(${BATCH} inputs), per item`;
const PEER = 'peer: extractFeatures only';
const CEILING = `ceiling: ${FEATURE_COUNT}-term dot product + sigmoid`;
/** Items each task processes per call. */
const itemsPerCall = new Map<string, number>([
  [SINGLE, PER_CALL],
  [BATCHED, BATCH * 4],
  [PEER, PER_CALL],
  [CEILING, PER_CALL],
]);

bench
  .add(SINGLE, () => {
    const base = cursor;
    for (let i = 0; i < PER_CALL; i++) {
      const x = inputs[(base + i) & MASK]!;
      sink += model.score(x.request, x.velocity, thresholds).score;
    }
    cursor = (base + PER_CALL) & MASK;
  })
  .add(BATCHED, () => {
    const base = cursor;
    for (let k = 0; k < 4; k++) {
      const out = model.scoreBatch(batches[(base + k) % batches.length]!, thresholds);
      sink += out[BATCH - 1]!.score;
    }
    cursor = (base + 4) & MASK;
  })
  .add(PEER, () => {
    const base = cursor;
    for (let i = 0; i < PER_CALL; i++) {
      const x = inputs[(base + i) & MASK]!;
      extractFeatures(x.request, x.velocity, scratch);
      sink += scratch[0]!;
    }
    cursor = (base + PER_CALL) & MASK;
  })
  .add(CEILING, () => {
    const base = cursor;
    for (let i = 0; i < PER_CALL; i++) {
      const off = ((base + i) & MASK) * FEATURE_COUNT;
      let z = -5;
      for (let j = 0; j < FEATURE_COUNT; j++) z += weights[j]! * rows[off + j]!;
      sink += 1 / (1 + Math.exp(-z));
    }
    cursor = (base + PER_CALL) & MASK;
  });

await bench.run();

const nsPerItem = new Map<string, number>();
for (const task of bench.tasks) {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
  // r.period is ms per task call.
  nsPerItem.set(task.name, (r.period * 1e6) / itemsPerCall.get(task.name)!);
}
const peerNs = nsPerItem.get(PEER)!;
const ceilingNs = nsPerItem.get(CEILING)!;
const table = [...nsPerItem].map(([name, ns]) => ({
  task: name,
  'ns/op': ns.toFixed(1),
  'Mops/s': (1e3 / ns).toFixed(2),
  'x extract peer': (ns / peerNs).toFixed(2),
  'x dot ceiling': (ns / ceilingNs).toFixed(2),
  '< 20 us': name === SINGLE || name === BATCHED ? (ns < TARGET_NS ? 'yes' : 'NO') : '',
}));

console.log(
  `fraud score, model ${model.version}, ${FEATURE_COUNT} features, ${INPUTS} distinct generated inputs` +
    `${smoke ? ' (smoke: short run)' : ''}, node ${process.version}`,
);
console.table(table);
console.log(
  'ratios are time per item: "x extract peer" 2.0 = twice as long as extracting the features alone',
);
if (sink === 0.5) console.log('unreachable: keeps the results observable');
