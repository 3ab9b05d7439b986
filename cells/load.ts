/**
 * Reading and writing map documents: JSON text or a parsed value in, a validated map out,
 * with shard URL placeholders expanded from the environment unless told not to.
 */
import { readFileSync } from 'node:fs';
import type { CellMapProblem } from './errors.ts';
import { CellErrors } from './errors.ts';
import type { Env } from './placeholders.ts';
import { expandPlaceholders, hasPlaceholder } from './placeholders.ts';
import type { CellMap, Shard } from './schema.ts';
import { invalid, validateCellMap } from './validate.ts';

export interface ParseOptions {
  /**
   * Where `${NAME:-default}` placeholders in shard URLs come from. Default `process.env`.
   * `false` keeps them as written: for tools that edit the map and write it back.
   */
  readonly env?: Env | false;
}

/**
 * Expands the placeholders of every shard URL (a cluster seed entry with a placeholder may expand to several
 * comma-separated seeds); throws CELL_MAP_INVALID naming each one that cannot be.
 */
export function resolveShardUrls(map: CellMap, env: Env): CellMap {
  const problems: CellMapProblem[] = [];
  const expand = (text: string, path: string): string => {
    const r = expandPlaceholders(text, env);
    if (r.ok) return r.value;
    problems.push({ path, message: r.message });
    return text;
  };
  // A placeholder in a cluster's seed list may stand for several seeds: its value is split on commas
  // (`TITAN_REDIS_CLUSTER_SEEDS=redis://h:7000,redis://h:7001`), so the seed count need not be in the map.
  const seeds = (text: string, path: string): string[] => {
    const value = expand(text, path);
    if (!hasPlaceholder(text)) return [value];
    const list = value
      .split(',')
      .map((seed) => seed.trim())
      .filter((seed) => seed !== '');
    if (list.length === 0) problems.push({ path, message: `${text} expands to no seed` });
    return list;
  };
  const shards = map.shards.map((s, i): Shard => {
    const at = `/shards/${i}`;
    const redis =
      'url' in s.redis
        ? { url: expand(s.redis.url, `${at}/redis/url`) }
        : { cluster: s.redis.cluster.flatMap((u, j) => seeds(u, `${at}/redis/cluster/${j}`)) };
    return { id: s.id, redis, postgres: { url: expand(s.postgres.url, `${at}/postgres/url`) } };
  });
  if (problems.length > 0) throw invalid(problems);
  // Validate again: an expanded URL must still be a redis:// or postgres:// URL.
  return validateCellMap({ ...map, shards });
}

/** A validated map from JSON text or an already parsed value. Throws CELL_MAP_INVALID / CELL_MAP_UNREADABLE. */
export function parseCellMap(input: unknown, options: ParseOptions = {}): CellMap {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw CellErrors.CELL_MAP_UNREADABLE(`cell map is not JSON: ${(err as Error).message}`);
    }
  }
  const map = validateCellMap(value);
  const env = options.env ?? process.env;
  return env === false ? map : resolveShardUrls(map, env);
}

/** Reads and validates a map file (JSON). */
export function loadCellMap(path: string, options: ParseOptions = {}): CellMap {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw CellErrors.CELL_MAP_UNREADABLE(`cannot read cell map ${path}: ${(err as Error).message}`, { path });
  }
  try {
    return parseCellMap(text, options);
  } catch (err) {
    if (CellErrors.CELL_MAP_INVALID.is(err) || CellErrors.CELL_MAP_UNREADABLE.is(err)) {
      err.message = `${path}: ${err.message}`;
    }
    throw err;
  }
}

/** The document text: two-space JSON with one slot range per line, ending in a newline. */
export function serializeCellMap(map: CellMap): string {
  const { slots, ...rest } = map;
  const head = JSON.stringify(rest, null, 2).replace(/\n}$/, '');
  const ranges = slots.map((r) => `    { "from": ${r.from}, "to": ${r.to}, "cell": ${r.cell} }`).join(',\n');
  return `${head},\n  "slots": [\n${ranges}\n  ]\n}\n`;
}
