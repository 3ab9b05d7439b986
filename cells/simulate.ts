/**
 * The design-scale simulation, from the command line:
 *   npx tsx cells/simulate.ts --cells 500 --users 5000000 [--shards 10] [--ids random|sequential] [--json]
 */
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { formatSimulation, simulate } from './simulation.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const program = new Command('simulate')
  .description('Balance, movement on adding cells and blast radius of a generated cell map')
  .option('--cells <n>', 'cells in the map', positiveInt, 500)
  .option('--users <n>', 'user ids to hash', positiveInt, 5_000_000)
  .option('--shards <n>', 'physical shards (default: one per 50 cells)', positiveInt)
  .option(
    '--add <list>',
    'cell counts to add, comma separated',
    (v) => v.split(',').map(positiveInt),
    [1, 100],
  )
  .addOption(
    new Option('--ids <kind>', 'user id shape').choices(['random', 'sequential'] as const).default('random'),
  )
  .option('--seed <n>', 'seed of the random ids', positiveInt, 1)
  .option('--json', 'print the result as JSON')
  .action((o) => {
    const result = simulate({
      cells: o.cells,
      users: o.users,
      add: o.add,
      ids: o.ids,
      seed: o.seed,
      ...(o.shards === undefined ? {} : { shards: o.shards }),
    });
    console.log(o.json ? JSON.stringify(result, null, 2) : formatSimulation(result));
  });

program.parse();
