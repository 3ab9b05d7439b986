/**
 * The operators' cell admin API, served by the edge: list and inspect cells, tune pools, add cells,
 * drain and fail over. Every change is one compare-and-set on the map file: under a lock file (so edge
 * processes sharing the file serialise), re-read the document as written (placeholders kept), check
 * `If-Match` against its version, apply a pure cells operation (version + 1), write a temp file in the
 * same directory and rename it over the map, then `routing.reload()` so this edge serves it at once.
 * Other edge processes take it from their file watch. A refused change leaves the file untouched.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Static, Type } from '@sinclair/typebox';
import {
  abortSlotMove,
  addCells,
  beginSlotMove,
  CellErrors,
  type CellMap,
  CellMapSchema,
  CellRouter,
  diffSlots,
  failover,
  finishSlotMove,
  loadCellMap,
  POOL_NAMES,
  type PoolName,
  resolveShardUrls,
  type ShardClients,
  SLOT_COUNT,
  serializeCellMap,
  setStatus,
  slotCounts,
  slotTable,
  tune,
} from '../cells/index.ts';
import { copySlotData, removeCopiedData } from '../lua/slot-data.ts';
import { defineErrors, type Logger, type Reply, type RequestContext } from '../services/kit/index.ts';
import type { EdgeRoute } from './app.ts';
import type { CellRouting } from './cell-routing.ts';

export const CellAdminErrors = defineErrors({
  /** The map changed since the version the caller named in If-Match, or another writer held the lock too long. */
  CELL_MAP_CONFLICT: { status: 409, message: 'The cell map changed; re-read it and retry' },
  /** The change would make the map invalid; the message names the offending field. */
  CELL_CHANGE_INVALID: { status: 400, message: 'The change would make the cell map invalid' },
});

export interface CellAdminDeps {
  routing: CellRouting;
  /** Live per cell+pool metrics when this process runs the engine (`engine.stats()`). */
  engineStats?: () => unknown[];
  log: Logger;
  /** How long a change waits for another process's map lock before answering 409. Default 5 s. */
  lockTimeoutMs?: number;
  /** Connections to the shards, for live slot moves (copying the moving users' data). */
  shards?: ShardClients;
  /**
   * How long a live slot move waits between freezing the slots and copying their data: long enough
   * for every edge process to load the frozen map (its watch interval) and for work already handed to
   * the engines to finish (their task timeout).
   */
  moveDrainMs?: number;
}

// --- Schemas (they also make the OpenAPI document) ------------------------------------------------

const cellFields = CellMapSchema.properties.cells.items.properties;
const PoolsSchema = cellFields.pools;
const PoolSettingsPatchSchema = Type.Partial(PoolsSchema.properties.fraud, {
  additionalProperties: false,
  minProperties: 1,
});
const CellId = Type.String({ pattern: '^[0-9]{1,5}$', description: 'Cell id' });
const PoolParam = Type.Union(
  POOL_NAMES.map((p) => Type.Literal(p)),
  { description: 'Engine pool' },
);

const SlotShare = Type.Object({
  count: Type.Integer({ description: 'Slots the cell owns' }),
  fraction: Type.Number({ description: 'count / 16384: the expected share of users' }),
});
const CellView = Type.Object({
  id: Type.Integer(),
  status: cellFields.status,
  backup: Type.Integer(),
  servedBy: Type.Integer({ description: 'The cell serving its users now (itself unless down)' }),
  shard: Type.String(),
  slots: SlotShare,
  pools: PoolsSchema,
});
const CellList = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  slotCount: Type.Integer(),
  cells: Type.Array(CellView),
});
const CellDetail = Type.Object({
  version: Type.Integer(),
  cell: CellView,
  stats: Type.Optional(
    Type.Array(Type.Unknown(), { description: 'Live pool metrics, when this edge runs the engine' }),
  ),
});
const Changed = Type.Object({ version: Type.Integer(), cell: CellView });
const Rerouted = Type.Object({
  version: Type.Integer(),
  cell: CellView,
  rerouted: Type.Object({
    slots: Type.Integer({ description: 'Slots whose serving cell changed' }),
    fraction: Type.Number(),
    to: Type.Integer({ description: 'The cell now serving them' }),
    otherCellsAffected: Type.Integer({ description: 'Slots of other cells that changed serving cell' }),
  }),
});
const AddBody = Type.Object(
  {
    count: Type.Integer({ minimum: 1, maximum: 1024, description: 'Cells to add' }),
    shard: Type.Optional(Type.String({ description: 'Shard of every new cell; default: least loaded' })),
  },
  { additionalProperties: false },
);
const Added = Type.Object({
  version: Type.Integer(),
  cells: Type.Array(CellView),
  moved: Type.Object({
    slots: Type.Integer({ description: 'Slots that changed owner (diffSlots)' }),
    fraction: Type.Number({ description: 'Share of users that move' }),
    idealFraction: Type.Number({ description: 'n / (N + n)' }),
    perCell: Type.Array(
      Type.Object({
        cell: Type.Integer(),
        slots: Type.Integer(),
        fraction: Type.Number(),
        idealFraction: Type.Number({ description: '1 / (N + n)' }),
      }),
    ),
    moves: Type.Array(
      Type.Object({
        from: Type.Integer(),
        to: Type.Integer(),
        fromCell: Type.Integer(),
        toCell: Type.Integer(),
      }),
      { description: 'Slot runs to copy from fromCell to toCell' },
    ),
  }),
});

// --- Views ----------------------------------------------------------------------------------------

function cellView(map: CellMap, router: CellRouter, counts: Map<number, number>, id: number) {
  const c = map.cells.find((x) => x.id === id);
  if (!c) throw CellErrors.CELL_UNKNOWN(`no cell ${id} in cell map version ${map.version}`);
  const count = counts.get(id) ?? 0;
  return {
    id: c.id,
    status: c.status,
    backup: c.backup,
    servedBy: router.servingCellOf(id),
    shard: c.shard,
    slots: { count, fraction: count / SLOT_COUNT },
    pools: c.pools,
  };
}

function viewsOf(map: CellMap) {
  const router = new CellRouter(map);
  const counts = slotCounts(slotTable(map));
  return (id: number) => cellView(map, router, counts, id);
}

// --- The map file: lock, compare-and-set, atomic replace ------------------------------------------

const STALE_LOCK_MS = 30_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock file, or returns false when a live holder has it. A dead or stale holder's lock is broken. */
function tryLock(lockPath: string): boolean {
  try {
    const fd = openSync(lockPath, 'wx');
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let holder: { pid: number; ageMs: number };
  try {
    const st = statSync(lockPath);
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    holder = { pid, ageMs: Date.now() - st.mtimeMs };
  } catch {
    return false; // released meanwhile; the caller retries
  }
  // Locks are held for milliseconds (all work under them is synchronous); an old one is a crashed writer's.
  const dead = Number.isInteger(holder.pid) && holder.pid > 0 && !alive(holder.pid);
  if (dead || holder.ageMs > STALE_LOCK_MS) {
    try {
      unlinkSync(lockPath);
    } catch {}
  }
  return false;
}

/** Writes `text` to a temp file beside `path`, flushes it, and renames it over `path` (atomic on POSIX). */
function replaceFile(path: string, text: string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let mode = 0o644;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {}
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw err;
  }
  try {
    const d = openSync(dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {} // directory fsync is not possible everywhere; the rename itself is atomic
}

/** The version named by `If-Match` (`5`, `"5"` or `W/"5"`), undefined when absent. */
function expectedVersion(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '' || header.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header);
  if (!m) throw CellAdminErrors.CELL_MAP_CONFLICT(`If-Match must be a map version, got "${header}"`);
  return Number(m[1]);
}

class CellMapWriter {
  readonly #lockPath: string;
  constructor(
    private readonly routing: CellRouting,
    private readonly log: Logger,
    private readonly lockTimeoutMs: number,
  ) {
    this.#lockPath = `${routing.path}.lock`;
  }

  /**
   * Applies `change` to the map on disk as one compare-and-set. Everything between taking the lock
   * and releasing it is synchronous, so concurrent requests in this process never interleave, and
   * the lock file serialises them with other processes.
   */
  async change(
    ifMatch: string | undefined,
    what: string,
    change: (map: CellMap) => CellMap,
  ): Promise<{ before: CellMap; after: CellMap }> {
    const expected = expectedVersion(ifMatch);
    const deadline = Date.now() + this.lockTimeoutMs;
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      if (tryLock(this.#lockPath)) break;
      if (Date.now() >= deadline) {
        throw CellAdminErrors.CELL_MAP_CONFLICT(`another writer holds ${this.#lockPath}; retry`, {
          retryAfterSeconds: 1,
        });
      }
      await sleep(wait);
    }
    let result: { before: CellMap; after: CellMap };
    try {
      result = this.#applyLocked(expected, change);
    } finally {
      try {
        unlinkSync(this.#lockPath);
      } catch {}
    }
    this.log.info(
      { change: what, mapVersion: result.after.version, previousVersion: result.before.version },
      'cell map changed',
    );
    this.routing.reload();
    return result;
  }

  #applyLocked(expected: number | undefined, change: (map: CellMap) => CellMap) {
    // As written on disk: placeholders stay placeholders in what we write back.
    const before = loadCellMap(this.routing.path, { env: false });
    if (expected !== undefined && expected !== before.version) {
      throw CellAdminErrors.CELL_MAP_CONFLICT(
        `cell map is at version ${before.version}, not ${expected}; re-read it and retry`,
        { version: before.version },
      );
    }
    let after: CellMap;
    try {
      after = change(before);
      // The edges must be able to load it: shard URLs expand in this environment.
      resolveShardUrls(after, process.env);
    } catch (err) {
      if (CellErrors.CELL_MAP_INVALID.is(err)) {
        throw CellAdminErrors.CELL_CHANGE_INVALID(err.message, err.details ? { ...err.details } : undefined);
      }
      throw err;
    }
    replaceFile(this.routing.path, serializeCellMap(after));
    return { before, after };
  }
}

// --- Routes ---------------------------------------------------------------------------------------

const OPERATOR = { access: 'user', role: 'operator' } as const;
const tags = ['admin'];

function cellParam(ctx: RequestContext<unknown>): number {
  return Number(ctx.params.id);
}

function etag(version: number): Record<string, string> {
  return { etag: `"${version}"` };
}

export function registerCellAdminRoutes(route: EdgeRoute, deps: CellAdminDeps): void {
  const { routing } = deps;
  const writer = new CellMapWriter(routing, deps.log, deps.lockTimeoutMs ?? 5_000);
  /** The latest version on disk (a no-op when the watcher already has it). */
  const current = () => {
    routing.reload();
    return routing.map;
  };
  const changed = (map: CellMap, id: number): Reply => ({
    headers: etag(map.version),
    body: { version: map.version, cell: viewsOf(map)(id) },
  });

  route(
    'GET',
    '/v1/admin/cells',
    OPERATOR,
    () => {
      const map = current();
      const view = viewsOf(map);
      return {
        headers: etag(map.version),
        body: {
          name: map.name,
          version: map.version,
          slotCount: map.slotCount,
          cells: map.cells.map((c) => view(c.id)),
        },
      };
    },
    {
      summary: 'List cells: status, backup, shard, share of slots, pool settings',
      tags,
      response: { 200: CellList },
    },
  );

  route(
    'GET',
    '/v1/admin/cells/:id',
    OPERATOR,
    (ctx) => {
      const map = current();
      const id = cellParam(ctx);
      const cell = viewsOf(map)(id);
      const stats = deps.engineStats
        ?.call(undefined)
        .filter((s) => typeof s === 'object' && s !== null && (s as { cell?: unknown }).cell === id);
      return {
        headers: etag(map.version),
        body: { version: map.version, cell, ...(stats ? { stats } : {}) },
      };
    },
    {
      summary: 'One cell, with live pool metrics when this edge runs the engine',
      tags,
      params: Type.Object({ id: CellId }),
      response: { 200: CellDetail },
    },
  );

  route<Static<typeof PoolSettingsPatchSchema>>(
    'PATCH',
    '/v1/admin/cells/:id/pools/:pool',
    OPERATOR,
    async (ctx) => {
      const id = cellParam(ctx);
      const pool = ctx.params.pool as PoolName;
      const { after } = await writer.change(ctx.headers['if-match'], `tune ${id} ${pool}`, (map) =>
        tune(map, id, pool, ctx.body),
      );
      return changed(after, id);
    },
    {
      summary: 'Change some settings of one engine pool of a cell (If-Match: <version> for compare-and-set)',
      tags,
      params: Type.Object({ id: CellId, pool: PoolParam }),
      body: PoolSettingsPatchSchema,
      response: { 200: Changed },
    },
  );

  route<Static<typeof AddBody>>(
    'POST',
    '/v1/admin/cells',
    OPERATOR,
    async (ctx) => {
      const { count, shard } = ctx.body;
      const { before, after } = await writer.change(ctx.headers['if-match'], `add ${count}`, (map) =>
        addCells(map, count, shard === undefined ? {} : { shard }),
      );
      const known = new Set(before.cells.map((c) => c.id));
      const added = after.cells.filter((c) => !known.has(c.id)).map((c) => c.id);
      const holders = new Set(slotTable(before)).size;
      const moves = diffSlots(before, after);
      const received = new Map<number, number>();
      let slots = 0;
      for (const m of moves) {
        slots += m.to - m.from + 1;
        received.set(m.toCell, (received.get(m.toCell) ?? 0) + m.to - m.from + 1);
      }
      const view = viewsOf(after);
      return {
        status: 201,
        headers: etag(after.version),
        body: {
          version: after.version,
          cells: added.map(view),
          moved: {
            slots,
            fraction: slots / SLOT_COUNT,
            idealFraction: count / (holders + count),
            perCell: added.map((cell) => {
              const n = received.get(cell) ?? 0;
              return { cell, slots: n, fraction: n / SLOT_COUNT, idealFraction: 1 / (holders + count) };
            }),
            moves,
          },
        },
      };
    },
    {
      summary: 'Add cells; slots move only to the new cells (the moves to copy are listed)',
      tags,
      body: AddBody,
      response: { 201: Added },
    },
  );

  route(
    'POST',
    '/v1/admin/cells/:id/drain',
    OPERATOR,
    async (ctx) => {
      const id = cellParam(ctx);
      const { after } = await writer.change(ctx.headers['if-match'], `drain ${id}`, (map) => {
        const cell = map.cells.find((c) => c.id === id);
        if (cell && cell.status !== 'active') {
          throw CellErrors.CELL_OPERATION_REJECTED(
            `cell ${id} is ${cell.status}; only an active cell drains`,
          );
        }
        return setStatus(map, id, 'draining');
      });
      return changed(after, id);
    },
    {
      summary: 'Mark a cell draining: it keeps serving its users and receives no new slots',
      tags,
      params: Type.Object({ id: CellId }),
      response: { 200: Changed },
    },
  );

  route(
    'POST',
    '/v1/admin/cells/:id/failover',
    OPERATOR,
    async (ctx) => {
      const id = cellParam(ctx);
      const { before, after } = await writer.change(ctx.headers['if-match'], `failover ${id}`, (map) =>
        failover(map, id),
      );
      const a = new CellRouter(before);
      const b = new CellRouter(after);
      let slots = 0;
      let others = 0;
      for (let s = 0; s < SLOT_COUNT; s++) {
        if (a.routeSlot(s) === b.routeSlot(s)) continue;
        if (a.routeSlot(s) === id) slots++;
        else others++;
      }
      const view = viewsOf(after);
      return {
        headers: etag(after.version),
        body: {
          version: after.version,
          cell: view(id),
          rerouted: {
            slots,
            fraction: slots / SLOT_COUNT,
            to: b.servingCellOf(id),
            otherCellsAffected: others,
          },
        },
      };
    },
    {
      summary: 'Mark a cell down: its users route to its backup; no other user changes cell',
      tags,
      params: Type.Object({ id: CellId }),
      response: { 200: Rerouted },
    },
  );

  route<{ from: number; to: number }>(
    'POST',
    '/v1/admin/cells/:id/slots',
    OPERATOR,
    async (ctx) => {
      const shards = deps.shards;
      if (!shards)
        throw CellErrors.CELL_OPERATION_REJECTED('this edge has no shard connections for live moves');
      const to = cellParam(ctx);
      const range = { from: ctx.body.from, to: ctx.body.to };
      const started = Date.now();
      // 1. Freeze: from this map version on, no edge serves the moving users (they get 503 + retry).
      const { after: frozen } = await writer.change(
        ctx.headers['if-match'],
        `begin move ${range.from}-${range.to} to ${to}`,
        (map) => beginSlotMove(map, range, to),
      );
      try {
        // 2. Drain: let every edge see the frozen map and the work already in the engines finish.
        await sleep(deps.moveDrainMs ?? 6_500);
        // 3. Copy each source cell's moving users to the target.
        const router = new CellRouter(resolveShardUrls(frozen, process.env));
        const sources = new Set<number>();
        for (let slot = range.from; slot <= range.to; slot++) sources.add(router.ownerOfSlot(slot));
        sources.delete(to);
        const moving = (user: string) => {
          const slot = router.slotOf(user);
          return slot >= range.from && slot <= range.to;
        };
        const totals = { sales: 0, users: 0, heldFields: 0, answers: 0, fraudKeys: 0 };
        const copied: { source: number; fields: Map<string, string[]> }[] = [];
        for (const source of sources) {
          const r = await copySlotData({
            source: shards.clientFor(router, source),
            target: shards.clientFor(router, to),
            fromCell: source,
            toCell: to,
            moving,
          });
          copied.push({ source, fields: r.fields });
          totals.sales = Math.max(totals.sales, r.sales);
          totals.users += r.users;
          totals.heldFields += r.heldFields;
          totals.answers += r.answers;
          totals.fraudKeys += r.fraudKeys;
        }
        // 4. Switch: the slots belong to the target and are served again, by the target only.
        const { after } = await writer.change(
          undefined,
          `finish move ${range.from}-${range.to} to ${to}`,
          (map) => finishSlotMove(map, range),
        );
        // 5. Remove the old copies.
        for (const c of copied) await removeCopiedData(shards.clientFor(router, c.source), c.fields);
        return {
          headers: etag(after.version),
          body: {
            version: after.version,
            moved: { ...range, cell: to, fromCells: [...sources], ...totals },
            frozenMs: Date.now() - started,
          },
        };
      } catch (err) {
        deps.log.error({ err, range, to }, 'live slot move failed; unfreezing the slots');
        await writer
          .change(undefined, `abort move ${range.from}-${range.to}`, (map) => abortSlotMove(map, range))
          .catch(() => {});
        throw err;
      }
    },
    {
      summary: 'Move a range of slots (their users and their hot data) to this cell, live',
      tags,
      params: Type.Object({ id: CellId }),
      body: Type.Object(
        {
          from: Type.Integer({ minimum: 0, maximum: SLOT_COUNT - 1 }),
          to: Type.Integer({ minimum: 0, maximum: SLOT_COUNT - 1 }),
        },
        { additionalProperties: false },
      ),
    },
  );
}
