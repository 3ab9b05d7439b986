/**
 * Whole-map validation: the compiled TypeBox schema first (shape and per-field ranges), then the
 * rules that span fields (slot coverage, references between cells and shards, min <= max...).
 * Every problem carries a JSON pointer into the document.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { CellMapProblem } from './errors.ts';
import { CellErrors } from './errors.ts';
import { hasPlaceholder } from './placeholders.ts';
import type { CellMap } from './schema.ts';
import { CellMapSchema, POOL_NAMES, SLOT_COUNT } from './schema.ts';

const compiled = TypeCompiler.Compile(CellMapSchema);

/** Past this many problems the rest are summarised: a wrong map tends to be wrong everywhere. */
const MAX_PROBLEMS = 50;

function got(value: unknown): string {
  return value === undefined || (typeof value === 'object' && value !== null)
    ? ''
    : `, got ${JSON.stringify(value)}`;
}

function schemaProblems(input: unknown): CellMapProblem[] {
  const problems: CellMapProblem[] = [];
  for (const e of compiled.Errors(input)) {
    const path = e.path === '' ? '/' : e.path;
    const message = /\/redis$/.test(e.path)
      ? 'expected { "url": "redis://..." } or { "cluster": ["redis://...", ...] }'
      : e.message.charAt(0).toLowerCase() + e.message.slice(1) + got(e.value);
    if (!problems.some((p) => p.path === path)) problems.push({ path, message });
    if (problems.length >= MAX_PROBLEMS) break;
  }
  return problems;
}

function urlProblem(url: string, protocols: readonly string[], what: string): string | undefined {
  if (hasPlaceholder(url)) return undefined;
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    return `${what} URL ${JSON.stringify(url)} is not a URL`;
  }
  return protocols.includes(protocol)
    ? undefined
    : `${what} URL must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got ${JSON.stringify(url)}`;
}

const REDIS_PROTOCOLS = ['redis:', 'rediss:'];
const POSTGRES_PROTOCOLS = ['postgres:', 'postgresql:'];

type Report = (path: string, message: string) => void;

function shardProblems(map: CellMap, report: Report): void {
  const seen = new Map<string, number>();
  map.shards.forEach((shard, i) => {
    const at = `/shards/${i}`;
    const first = seen.get(shard.id);
    if (first === undefined) seen.set(shard.id, i);
    else report(`${at}/id`, `shard "${shard.id}" is also /shards/${first}`);
    const redisUrls = 'url' in shard.redis ? [shard.redis.url] : shard.redis.cluster;
    redisUrls.forEach((url, j) => {
      const message = urlProblem(url, REDIS_PROTOCOLS, 'redis');
      if (message) report('url' in shard.redis ? `${at}/redis/url` : `${at}/redis/cluster/${j}`, message);
    });
    const pg = urlProblem(shard.postgres.url, POSTGRES_PROTOCOLS, 'postgres');
    if (pg) report(`${at}/postgres/url`, pg);
  });
}

function cellProblems(map: CellMap, report: Report): void {
  const shardIds = new Set(map.shards.map((s) => s.id));
  const byId = new Map<number, number>();
  map.cells.forEach((cell, i) => {
    const first = byId.get(cell.id);
    if (first === undefined) byId.set(cell.id, i);
    else report(`/cells/${i}/id`, `cell ${cell.id} is also /cells/${first}`);
  });
  let backupsKnown = true;
  map.cells.forEach((cell, i) => {
    const at = `/cells/${i}`;
    if (!shardIds.has(cell.shard)) report(`${at}/shard`, `unknown shard "${cell.shard}"`);
    if (cell.backup === cell.id || !byId.has(cell.backup)) {
      backupsKnown = false;
      const why =
        cell.backup === cell.id ? `cell ${cell.id} is its own backup` : `unknown backup cell ${cell.backup}`;
      report(`${at}/backup`, why);
    }
    for (const pool of POOL_NAMES) {
      const p = cell.pools[pool];
      if (p.minThreads > p.maxThreads) {
        report(
          `${at}/pools/${pool}/minThreads`,
          `minThreads ${p.minThreads} is above maxThreads ${p.maxThreads}`,
        );
      }
    }
    const { reviewThreshold, denyThreshold } = cell.pools.fraud;
    if (reviewThreshold >= denyThreshold) {
      report(
        `${at}/pools/fraud/reviewThreshold`,
        `reviewThreshold ${reviewThreshold} must be below denyThreshold ${denyThreshold}`,
      );
    }
  });
  if (!backupsKnown) return;
  // A down cell's users go to its backup, or on along the chain while backups are down too.
  const cellById = new Map(map.cells.map((c) => [c.id, c]));
  map.cells.forEach((cell, i) => {
    if (cell.status === 'down' && servingCell(cell.id, cellById) === undefined) {
      report(
        `/cells/${i}/status`,
        `cell ${cell.id} is down and so is every cell on its backup chain: its users have nowhere to go`,
      );
    }
  });
}

/** The cell that serves `cell`'s users: itself unless down, else the first backup up the chain. */
export function servingCell(
  cell: number,
  cells: ReadonlyMap<number, { status: string; backup: number }>,
): number | undefined {
  let at = cell;
  for (let hops = 0; hops <= cells.size; hops++) {
    const c = cells.get(at);
    if (c === undefined) return undefined;
    if (c.status !== 'down') return at;
    at = c.backup;
  }
  return undefined;
}

function describe(from: number, to: number): string {
  return from === to ? `slot ${from}` : `slots ${from}-${to}`;
}

function slotProblems(map: CellMap, report: Report): void {
  const cellIds = new Set(map.cells.map((c) => c.id));
  const owner = new Int32Array(SLOT_COUNT).fill(-1);
  // Doubly-assigned slots are reported once per pair of overlapping ranges.
  const overlaps = new Map<string, { first: number; second: number; from: number; to: number }>();
  map.slots.forEach((r, i) => {
    const at = `/slots/${i}`;
    if (!cellIds.has(r.cell)) report(`${at}/cell`, `unknown cell ${r.cell}`);
    if (r.from > r.to) {
      report(at, `from ${r.from} is above to ${r.to}`);
      return;
    }
    for (let s = r.from; s <= r.to; s++) {
      const prev = owner[s]!;
      if (prev === -1) {
        owner[s] = i;
        continue;
      }
      const key = `${prev}:${i}`;
      const o = overlaps.get(key);
      if (o) o.to = s;
      else overlaps.set(key, { first: prev, second: i, from: s, to: s });
    }
  });
  for (const o of overlaps.values()) {
    const other = `/slots/${o.first} (cell ${map.slots[o.first]!.cell})`;
    report(`/slots/${o.second}`, `${describe(o.from, o.to)} also assigned by ${other}`);
  }
  let s = 0;
  while (s < SLOT_COUNT) {
    if (owner[s] !== -1) {
      s++;
      continue;
    }
    const from = s;
    while (s < SLOT_COUNT && owner[s] === -1) s++;
    report('/slots', `${describe(from, s - 1)} unassigned`);
  }
}

/** Every problem of `input` as a cell map; empty when it is valid. Placeholders are checked for syntax only. */
export function cellMapProblems(input: unknown): CellMapProblem[] {
  const structural = schemaProblems(input);
  if (structural.length > 0) return structural;
  const map = input as CellMap;
  const out: CellMapProblem[] = [];
  const report: Report = (path, message) => {
    out.push({ path, message });
  };
  shardProblems(map, report);
  cellProblems(map, report);
  slotProblems(map, report);
  migrationProblems(map, report);
  return out;
}

function migrationProblems(map: CellMap, report: Report): void {
  const cells = new Map(map.cells.map((c) => [c.id, c]));
  const seen = new Uint8Array(SLOT_COUNT);
  (map.migrating ?? []).forEach((r, i) => {
    const at = `/migrating/${i}`;
    const target = cells.get(r.cell);
    if (!target) report(`${at}/cell`, `unknown cell ${r.cell}`);
    else if (target.status !== 'active')
      report(`${at}/cell`, `cell ${r.cell} is ${target.status}; slots move only to an active cell`);
    if (r.from > r.to) {
      report(at, `from ${r.from} is above to ${r.to}`);
      return;
    }
    for (let s = r.from; s <= r.to; s++) {
      if (seen[s]) {
        report(at, `slot ${s} is already being moved`);
        return;
      }
      seen[s] = 1;
    }
  });
}

/** Throws CELL_MAP_INVALID listing the problems, or returns `input` typed as a map. */
export function validateCellMap(input: unknown): CellMap {
  const problems = cellMapProblems(input);
  if (problems.length > 0) throw invalid(problems);
  return input as CellMap;
}

export function invalid(problems: readonly CellMapProblem[]) {
  const shown = problems.slice(0, MAX_PROBLEMS);
  const head = shown
    .slice(0, 3)
    .map((p) => `${p.path}: ${p.message}`)
    .join('; ');
  const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
  return CellErrors.CELL_MAP_INVALID(`cell map invalid: ${head}${more}`, {
    problems: shown,
    total: problems.length,
  });
}
