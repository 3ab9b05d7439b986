/**
 * The `cells` command group of the `titan` CLI: list, show, tune, add, drain and fail over cells
 * through the edge's admin API (`/v1/admin/cells`). Tables for people, the API's JSON with `--json`.
 * The caller (deploy/cli/titan.ts) supplies the API connection and the output mode.
 */
import { type CommandUnknownOpts, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import type { CellPools, CellStatus, PoolName } from './schema.ts';
import { POOL_NAMES, RUN_ON } from './schema.ts';

/** What the commands need from the program: an API connection (made on first use) and the output mode. */
export interface CellsCliContext {
  api(): {
    request<T = unknown>(
      method: string,
      path: string,
      options?: { body?: unknown; headers?: Record<string, string> },
    ): Promise<T>;
  };
  json(): boolean;
}

interface CellView {
  id: number;
  status: CellStatus;
  backup: number;
  servedBy: number;
  shard: string;
  slots: { count: number; fraction: number };
  pools: CellPools;
}

interface CellList {
  name: string;
  version: number;
  cells: CellView[];
}

interface Added {
  version: number;
  cells: CellView[];
  moved: {
    slots: number;
    fraction: number;
    idealFraction: number;
    perCell: { cell: number; slots: number; fraction: number; idealFraction: number }[];
  };
}

/** CLI flag -> pool setting, with the parser of its value. */
const TUNE_FLAGS = [
  ['--min-threads <n>', 'minThreads', 'int'],
  ['--max-threads <n>', 'maxThreads', 'int'],
  ['--concurrent-tasks <n>', 'concurrentTasksPerWorker', 'int'],
  ['--max-queue <n>', 'maxQueue', 'int'],
  ['--idle-timeout-ms <ms>', 'idleTimeoutMs', 'int'],
  ['--batch-max <n>', 'batchMaxSize', 'int'],
  ['--batch-wait-us <us>', 'batchMaxWaitMicros', 'int'],
  ['--review-threshold <score>', 'reviewThreshold', 'number'],
  ['--deny-threshold <score>', 'denyThreshold', 'number'],
  ['--run-on <where>', 'runOn', 'choice'],
] as const;

const SETTING_ROWS = [
  'minThreads',
  'maxThreads',
  'concurrentTasksPerWorker',
  'maxQueue',
  'idleTimeoutMs',
  'batchMaxSize',
  'batchMaxWaitMicros',
  'reviewThreshold',
  'denyThreshold',
  'runOn',
] as const;

function integer(what: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${what} must be an integer`);
    return Number(value);
  };
}

function decimal(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
  return n;
}

const percent = (fraction: number) => `${(fraction * 100).toFixed(2)}%`;

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function formatTable(rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => r.map(String));
  const widths: number[] = [];
  for (const r of cells) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return cells
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function poolSummary(p: CellPools[PoolName]): string {
  return `threads ${p.minThreads}-${p.maxThreads} batch ${p.batchMaxSize}`;
}

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

const cellPath = (cell: number) => `/v1/admin/cells/${cell}`;
const ifMatch = (version: number | undefined) =>
  version === undefined ? {} : { headers: { 'if-match': `"${version}"` } };
const ifVersion = () =>
  new Option('--if-version <version>', 'only change the map if it is still at this version').argParser(
    integer('version'),
  );

/** Adds `cells list|show|tune|add|drain|failover` to `program`. */
export function addCellsCommands(program: CommandUnknownOpts, ctx: CellsCliContext): void {
  const cells = program.command('cells').description('inspect and change the cell map through the edge');
  /** Prints the API body as JSON with --json, or the human form. */
  const print = <T>(body: T, human: (b: T) => string) => out(ctx.json() ? JSON.stringify(body) : human(body));

  cells
    .command('list')
    .description('every cell: status, serving cell, backup, shard, share of slots, pool settings')
    .action(async () => {
      const body = await ctx.api().request<CellList>('GET', '/v1/admin/cells');
      print(body, (b) =>
        [
          `cell map ${b.name}, version ${b.version}`,
          formatTable([
            [
              'CELL',
              'STATUS',
              'SERVED BY',
              'BACKUP',
              'SHARD',
              'SLOTS',
              'SHARE',
              ...POOL_NAMES.map((p) => p.toUpperCase()),
            ],
            ...b.cells.map((c) => [
              c.id,
              c.status,
              c.servedBy,
              c.backup,
              c.shard,
              c.slots.count,
              percent(c.slots.fraction),
              ...POOL_NAMES.map((p) => poolSummary(c.pools[p])),
            ]),
          ]),
        ].join('\n'),
      );
    });

  cells
    .command('show')
    .description('one cell: placement, pool settings, and live pool metrics when the engine runs')
    .argument('<cell>', 'cell id', integer('cell'))
    .action(async (cell) => {
      const body = await ctx
        .api()
        .request<{ version: number; cell: CellView; stats?: Record<string, unknown>[] }>(
          'GET',
          cellPath(cell),
        );
      print(body, (b) => {
        const c = b.cell;
        const lines = [
          `cell ${c.id} (map version ${b.version})`,
          formatTable([
            ['status', c.status],
            ['served by', c.servedBy],
            ['backup', c.backup],
            ['shard', c.shard],
            ['slots', `${c.slots.count} (${percent(c.slots.fraction)})`],
          ]),
          '',
          formatTable([
            ['SETTING', ...POOL_NAMES],
            ...SETTING_ROWS.map((k) => [
              k,
              ...POOL_NAMES.map((p) => String((c.pools[p] as Record<string, unknown>)[k] ?? '-')),
            ]),
          ]),
        ];
        if (b.stats && b.stats.length > 0) {
          const cols = [
            'pool',
            'threads',
            'queueDepth',
            'inFlightTasks',
            'utilization',
            'requests',
            'busyRejections',
          ];
          lines.push(
            '',
            formatTable([
              cols.map((k) => k.toUpperCase()),
              ...b.stats.map((s) => cols.map((k) => String(s[k] ?? '-'))),
            ]),
          );
        }
        return lines.join('\n');
      });
    });

  const tune = cells
    .command('tune')
    .description('change settings of one engine pool of a cell (written as the next map version)')
    .argument('<cell>', 'cell id', integer('cell'))
    .addOption(new Option('--pool <pool>', 'engine pool').choices(POOL_NAMES).makeOptionMandatory())
    .addOption(ifVersion());
  const settingOptions = TUNE_FLAGS.map(([flag, setting, kind]) => {
    const option = new Option(flag, setting);
    if (kind === 'choice') option.choices(RUN_ON);
    else option.argParser(kind === 'int' ? integer(setting) : decimal);
    tune.addOption(option);
    return [option.attributeName(), setting] as const;
  });
  tune.action(async (cell, _options, command) => {
    const options = command.opts() as Record<string, unknown>;
    const patch: Record<string, number | string> = {};
    for (const [key, setting] of settingOptions) {
      if (options[key] !== undefined) patch[setting] = options[key] as number | string;
    }
    if (Object.keys(patch).length === 0) {
      command.error('error: give at least one setting to change, e.g. --max-threads 8', {
        code: 'CLI_USAGE',
      });
    }
    const pool = options.pool as PoolName;
    const body = await ctx
      .api()
      .request<{ version: number; cell: CellView }>('PATCH', `${cellPath(cell)}/pools/${pool}`, {
        body: patch,
        ...ifMatch(options.ifVersion as number | undefined),
      });
    print(body, (b) => {
      const set = Object.entries(patch).map(
        ([k, v]) => `${k} ${(b.cell.pools[pool] as Record<string, number>)[k] ?? v}`,
      );
      return `cell ${cell} ${pool} tuned: ${set.join(', ')} (map version ${b.version})`;
    });
  });

  cells
    .command('add')
    .description('add cells; slots move only to the new ones (the ideal share of users moves)')
    .argument('<n>', 'how many cells', integer('n'))
    .option('--shard <shard>', 'shard of every new cell (default: the least loaded)')
    .addOption(ifVersion())
    .action(async (n, options) => {
      const body = await ctx.api().request<Added>('POST', '/v1/admin/cells', {
        body: { count: n, ...(options.shard === undefined ? {} : { shard: options.shard }) },
        ...ifMatch(options.ifVersion),
      });
      print(body, (b) =>
        [
          `added cell${b.cells.length === 1 ? '' : 's'} ${b.cells.map((c) => c.id).join(', ')} (map version ${b.version})`,
          `moved ${b.moved.slots} slots: ${percent(b.moved.fraction)} of users (ideal ${percent(b.moved.idealFraction)})`,
          formatTable([
            ['CELL', 'SHARD', 'BACKUP', 'SLOTS', 'SHARE', 'IDEAL'],
            ...b.cells.map((c) => {
              const m = b.moved.perCell.find((p) => p.cell === c.id);
              return [
                c.id,
                c.shard,
                c.backup,
                c.slots.count,
                percent(c.slots.fraction),
                percent(m?.idealFraction ?? 0),
              ];
            }),
          ]),
        ].join('\n'),
      );
    });

  cells
    .command('drain')
    .description('mark a cell draining: it keeps serving and receives no new slots')
    .argument('<cell>', 'cell id', integer('cell'))
    .addOption(ifVersion())
    .action(async (cell, options) => {
      const body = await ctx
        .api()
        .request<{ version: number; cell: CellView }>(
          'POST',
          `${cellPath(cell)}/drain`,
          ifMatch(options.ifVersion),
        );
      print(
        body,
        (b) =>
          `cell ${cell} draining (map version ${b.version}); it still owns ${b.cell.slots.count} slots: move them to other cells`,
      );
    });

  cells
    .command('failover')
    .description('mark a cell down: its users are served by its backup; no other user moves')
    .argument('<cell>', 'cell id', integer('cell'))
    .addOption(ifVersion())
    .action(async (cell, options) => {
      const body = await ctx.api().request<{
        version: number;
        rerouted: { slots: number; fraction: number; to: number; otherCellsAffected: number };
      }>('POST', `${cellPath(cell)}/failover`, ifMatch(options.ifVersion));
      print(
        body,
        (b) =>
          `cell ${cell} down (map version ${b.version}): ${b.rerouted.slots} slots (${percent(b.rerouted.fraction)} of users) now served by cell ${b.rerouted.to}; ${b.rerouted.otherCellsAffected} slots of other cells changed`,
      );
    });

  cells
    .command('move')
    .description(
      "move a range of slots, with their users' live data, to a cell (users of those slots wait a few seconds)",
    )
    .argument('<cell>', 'target cell id', integer('cell'))
    .requiredOption('--from <slot>', 'first slot', integer('--from'))
    .requiredOption('--to <slot>', 'last slot', integer('--to'))
    .addOption(ifVersion())
    .action(async (cell, options) => {
      const body = await ctx.api().request<{
        version: number;
        frozenMs: number;
        moved: { from: number; to: number; fromCells: number[]; users: number; sales: number };
      }>('POST', `${cellPath(cell)}/slots`, {
        body: { from: options.from, to: options.to },
        ...ifMatch(options.ifVersion),
      });
      print(
        body,
        (b) =>
          `slots ${b.moved.from}-${b.moved.to} moved to cell ${cell} from cells ${b.moved.fromCells.join(', ')} (map version ${b.version}): ${b.moved.users} users' data across ${b.moved.sales} sales; frozen ${b.frozenMs} ms`,
      );
    });
}
