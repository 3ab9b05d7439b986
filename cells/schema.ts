/**
 * The cell map document: its TypeBox schema, the types derived from it, and the fixed limits.
 * Structure and per-field ranges live here; rules that span fields are in `validate.ts`.
 */
import { type Static, Type } from '@sinclair/typebox';

/** Fixed, like Redis Cluster: user id -> CRC16 -> one of 16384 slots. */
export const SLOT_COUNT = 16384;
/** Cell ids index Uint16Array tables; 0xFFFF is kept free to mean "no cell". */
export const MAX_CELL_ID = 0xfffe;

export const POOL_LIMITS = {
  threads: 256,
  concurrentTasksPerWorker: 1024,
  maxQueue: 1_000_000,
  idleTimeoutMs: 3_600_000,
  /** One batch is one Lua call; its ARGV grows with the batch, so it is capped. */
  batchMaxSize: 1024,
  batchMaxWaitMicros: 100_000,
} as const;

const Int = (minimum: number, maximum: number, description: string) =>
  Type.Integer({ minimum, maximum, description });

const poolFields = {
  minThreads: Int(0, POOL_LIMITS.threads, 'Worker threads kept alive; at most maxThreads'),
  maxThreads: Int(1, POOL_LIMITS.threads, 'Upper bound of worker threads'),
  concurrentTasksPerWorker: Int(1, POOL_LIMITS.concurrentTasksPerWorker, 'Tasks one worker runs at once'),
  maxQueue: Int(0, POOL_LIMITS.maxQueue, 'Tasks waiting for a worker before the pool rejects'),
  idleTimeoutMs: Int(0, POOL_LIMITS.idleTimeoutMs, 'Idle time before a worker above minThreads exits'),
  batchMaxSize: Int(1, POOL_LIMITS.batchMaxSize, 'Requests coalesced into one task'),
  batchMaxWaitMicros: Int(0, POOL_LIMITS.batchMaxWaitMicros, 'Longest wait to fill a batch, in microseconds'),
};

export const PoolSettingsSchema = Type.Object(poolFields, { additionalProperties: false });

/** Where a cell's flash-sale batches run their Lua call. */
export const RUN_ON = ['workers', 'event-loop'] as const;
export type RunOn = (typeof RUN_ON)[number];

export const FlashSalePoolSettingsSchema = Type.Object(
  {
    ...poolFields,
    runOn: Type.Optional(
      Type.Union(
        RUN_ON.map((r) => Type.Literal(r)),
        {
          description:
            "workers (default): the pool's Piscina threads; event-loop: the edge's own event loop, one connection per cell (no thread hop; the thread settings are unused)",
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const FraudPoolSettingsSchema = Type.Object(
  {
    ...poolFields,
    reviewThreshold: Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'Score from which an order is reviewed',
    }),
    denyThreshold: Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'Score from which an order is denied',
    }),
  },
  { additionalProperties: false },
);

export const CellPoolsSchema = Type.Object(
  { flashSale: FlashSalePoolSettingsSchema, inventory: PoolSettingsSchema, fraud: FraudPoolSettingsSchema },
  { additionalProperties: false },
);

export const CellStatusSchema = Type.Union([
  Type.Literal('active'),
  Type.Literal('draining'),
  Type.Literal('down'),
]);

export const CellIdSchema = Type.Integer({ minimum: 0, maximum: MAX_CELL_ID });
export const ShardIdSchema = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' });

export const CellSchema = Type.Object(
  {
    id: CellIdSchema,
    status: CellStatusSchema,
    backup: CellIdSchema,
    shard: ShardIdSchema,
    pools: CellPoolsSchema,
  },
  { additionalProperties: false },
);

/** A URL, or a `${NAME}` / `${NAME:-default}` placeholder expanded by the loader. */
const UrlString = Type.String({ minLength: 1 });

export const RedisEndpointSchema = Type.Union([
  Type.Object({ url: UrlString }, { additionalProperties: false }),
  Type.Object({ cluster: Type.Array(UrlString, { minItems: 1 }) }, { additionalProperties: false }),
]);

export const ShardSchema = Type.Object(
  {
    id: ShardIdSchema,
    redis: RedisEndpointSchema,
    postgres: Type.Object({ url: UrlString }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

/** Inclusive range of slots owned by one cell. */
export const SlotRangeSchema = Type.Object(
  { from: Int(0, SLOT_COUNT - 1, 'First slot'), to: Int(0, SLOT_COUNT - 1, 'Last slot'), cell: CellIdSchema },
  { additionalProperties: false },
);

export const CellMapSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Environment the map is for, e.g. "local"' }),
    version: Type.Integer({ minimum: 1, description: 'Increases by one with every change' }),
    slotCount: Type.Literal(SLOT_COUNT),
    shards: Type.Array(ShardSchema, { minItems: 1 }),
    cells: Type.Array(CellSchema, { minItems: 2 }),
    slots: Type.Array(SlotRangeSchema, { minItems: 1, maxItems: SLOT_COUNT }),
    /**
     * Slots whose users are being moved to `cell` (a live slot move in progress): while listed, the
     * edge serves nobody in them (503 SLOT_MOVING, retry), so neither the old owner nor the new one
     * does, and their data is copied in peace. Absent or empty when no move runs.
     */
    migrating: Type.Optional(Type.Array(SlotRangeSchema, { maxItems: SLOT_COUNT })),
  },
  { additionalProperties: false },
);

export type PoolSettings = Static<typeof PoolSettingsSchema>;
export type FraudPoolSettings = Static<typeof FraudPoolSettingsSchema>;
export type FlashSalePoolSettings = Static<typeof FlashSalePoolSettingsSchema>;
export type CellPools = Static<typeof CellPoolsSchema>;
export type PoolName = keyof CellPools;
export type CellStatus = Static<typeof CellStatusSchema>;
export type Cell = Static<typeof CellSchema>;
export type RedisEndpoint = Static<typeof RedisEndpointSchema>;
export type Shard = Static<typeof ShardSchema>;
export type SlotRange = Static<typeof SlotRangeSchema>;
export type CellMap = Static<typeof CellMapSchema>;

export const POOL_NAMES: readonly PoolName[] = ['flashSale', 'inventory', 'fraud'];
