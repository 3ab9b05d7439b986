/**
 * The cell outbox relay: moves the events the Lua scripts appended to one cell's outbox stream
 * (`{c<cell>}:outbox`) onto the bus, in stream order, so in order per aggregate.
 *
 * - Position: a cursor hash `{c<cell>}:outbox:relay` (`id` = last relayed stream id, `n` = entries relayed),
 *   advanced only AFTER the bus acknowledged the batch. A relay that dies between publish and commit
 *   republishes that batch on restart with the SAME event ids (derived from the stream ids), which idempotent
 *   consumers absorb: at least once, nothing lost.
 * - One relay per cell at a time: a lease `{c<cell>}:outbox:relay:lease` (renewed each round); the cursor is
 *   only advanced by the lease holder (fenced in one Lua step), so a stalled relay that lost its lease cannot
 *   move the cursor.
 * - Retention: entries older than `retentionMs` AND already relayed are trimmed (XTRIM MINID, exact, at most once a second);
 *   an entry not yet relayed is never trimmed.
 * - Lag, per cell: `titan_outbox_relay_lag` (entries appended but not yet relayed) and
 *   `titan_outbox_relay_lag_seconds` (age of the oldest entry not yet relayed; 0 when caught up).
 * - An entry that cannot be decoded is published to `titan.outbox.dead-letter` with the error, and skipped.
 */
import { randomBytes } from 'node:crypto';
import { outboxKey } from '../../lua/keys.ts';
import type { RedisClient } from '../../lua/loader.ts';
import type { Gauge, Logger, Metrics } from '../kit/index.ts';
import { isTitanError } from '../kit/index.ts';
import type { EventBus } from './bus.ts';
import {
  topicOf as catalogueTopicOf,
  DEAD_LETTER_TYPE,
  type DeadLetter,
  deadLetterTopic,
} from './catalogue.ts';
import { createEvent, type EventEnvelope } from './envelope.ts';
import { decodeOutboxEntry } from './outbox-records.ts';

export const OUTBOX_DEAD_LETTER_TOPIC = deadLetterTopic('titan.outbox');

export interface CellOutboxRelayOptions {
  cell: number;
  /** The Redis of the cell's shard (a server, or a Redis Cluster: every key here carries the cell's tag). */
  redis: RedisClient;
  bus: EventBus;
  /** Topic of an event type (default: the catalogue's). */
  topicOf?: (type: string) => string;
  /** Entries per round (default 500). */
  batchSize?: number;
  /** Wait when caught up (default 50 ms). */
  pollMs?: number;
  /** Relayed entries older than this are trimmed (default 1 h). */
  retentionMs?: number;
  /** Lease on the cell (default 10 s); a relay that dies frees the cell after this. */
  leaseMs?: number;
  /** This relay's name in the lease (default host-pid-random). */
  owner?: string;
  metrics?: Metrics;
  log?: Logger;
  /** Called after the bus acknowledged a batch, before the cursor moves (observability and tests). */
  onPublished?: (count: number) => void;
}

const COMMIT = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'n', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1`;
const LEASE = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export const relayCursorKey = (cell: number): string => `${outboxKey(String(cell))}:relay`;
const leaseKey = (cell: number): string => `${outboxKey(String(cell))}:relay:lease`;

export interface RelayLag {
  /** Entries appended but not yet relayed. */
  entries: number;
  /** Age of the oldest entry not yet relayed, ms (0 when caught up). */
  oldestAgeMs: number;
}

export class CellOutboxRelay {
  readonly cell: number;
  readonly #o: Required<Omit<CellOutboxRelayOptions, 'metrics' | 'log' | 'onPublished'>> &
    Pick<CellOutboxRelayOptions, 'log' | 'onPublished'>;
  readonly #stream: string;
  readonly #lagEntries: Gauge<'cell'> | undefined;
  readonly #lagSeconds: Gauge<'cell'> | undefined;
  #running: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  #lastTrim = 0;
  #lastLag = 0;

  constructor(options: CellOutboxRelayOptions) {
    this.cell = options.cell;
    this.#o = {
      topicOf: catalogueTopicOf,
      batchSize: 500,
      pollMs: 50,
      retentionMs: 3_600_000,
      leaseMs: 10_000,
      owner: `relay-${process.pid}-${randomBytes(4).toString('hex')}`,
      ...options,
    };
    this.#stream = outboxKey(String(options.cell));
    this.#lagEntries = options.metrics?.gauge('outbox_relay_lag', 'Cell outbox entries not yet relayed', [
      'cell',
    ]);
    this.#lagSeconds = options.metrics?.gauge(
      'outbox_relay_lag_seconds',
      'Age of the oldest cell outbox entry not yet relayed (0 when caught up)',
      ['cell'],
    );
  }

  /** Runs rounds until `stop()`; errors are logged and retried after a pause. */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Finishes the round in hand (its commit included), releases the lease. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#running;
    await this.#o.redis.eval(RELEASE, 1, leaseKey(this.cell), this.#o.owner).catch(() => {});
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let relayed = 0;
      try {
        relayed = await this.relayOnce();
        if (Date.now() - this.#lastLag > 1000 || relayed === 0) await this.#updateLag();
      } catch (err) {
        this.#o.log?.error({ err, cell: this.cell }, 'outbox relay round failed; retrying');
        await this.#pause(1000);
        continue;
      }
      if (relayed < this.#o.batchSize) await this.#pause(this.#o.pollMs);
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  /** One round: take or renew the lease, relay up to a batch after the cursor, commit. Returns entries relayed. */
  async relayOnce(): Promise<number> {
    const { redis, owner, leaseMs, batchSize, bus } = this.#o;
    if ((await redis.eval(LEASE, 1, leaseKey(this.cell), owner, leaseMs)) !== 1) return 0;
    const cursor = (await redis.hget(relayCursorKey(this.cell), 'id')) ?? '0-0';
    const entries = (await redis.xrange(this.#stream, `(${cursor}`, '+', 'COUNT', batchSize)) as [
      string,
      string[],
    ][];
    if (entries.length === 0) {
      await this.#trim(cursor);
      return 0;
    }
    const byTopic = new Map<string, EventEnvelope[]>();
    const add = (topic: string, event: EventEnvelope) => {
      let list = byTopic.get(topic);
      if (!list) {
        list = [];
        byTopic.set(topic, list);
      }
      list.push(event);
    };
    for (const [id, fields] of entries) {
      let routed: [string, EventEnvelope][];
      try {
        routed = decodeOutboxEntry(this.cell, id, fields).map((e) => [this.#o.topicOf(e.type), e]);
      } catch (err) {
        routed = [[OUTBOX_DEAD_LETTER_TOPIC, this.#deadLetter(id, fields, err)]];
        this.#o.log?.error({ err, cell: this.cell, streamId: id }, 'undecodable outbox entry dead-lettered');
      }
      for (const [topic, event] of routed) add(topic, event);
    }
    // Events of one aggregate share a topic, so per-topic publishes in stream order keep per-aggregate order.
    await Promise.all([...byTopic].map(([topic, events]) => bus.publish(topic, events)));
    this.#o.onPublished?.(entries.length);
    const last = entries[entries.length - 1]![0];
    const committed = await redis.eval(
      COMMIT,
      2,
      relayCursorKey(this.cell),
      leaseKey(this.cell),
      owner,
      last,
      entries.length,
      leaseMs,
    );
    if (committed !== 1) {
      this.#o.log?.warn(
        { cell: this.cell },
        'outbox relay lost its lease before committing; the batch may repeat',
      );
      return 0;
    }
    await this.#trim(last);
    return entries.length;
  }

  #deadLetter(id: string, fields: string[], err: unknown): EventEnvelope<DeadLetter> {
    const field = isTitanError(err) && typeof err.details?.field === 'string' ? err.details.field : undefined;
    return createEvent({
      type: DEAD_LETTER_TYPE,
      aggregateId: `cell-${this.cell}`,
      cell: this.cell,
      payload: {
        topic: this.#stream,
        group: 'cell-outbox-relay',
        key: id,
        attempts: 0,
        error: {
          code: isTitanError(err) ? err.code : 'Error',
          message: (err as Error).message,
          ...(field ? { field } : {}),
        },
        original: Buffer.from(JSON.stringify(fields)).toString('base64'),
      },
    });
  }

  async #trim(relayedUpTo: string): Promise<void> {
    const now = Date.now();
    if (now - this.#lastTrim < 1000 || relayedUpTo === '0-0') return;
    this.#lastTrim = now;
    const horizon = now - this.#o.retentionMs;
    const relayedMs = Number(relayedUpTo.slice(0, relayedUpTo.indexOf('-')));
    const minId = horizon < relayedMs ? `${horizon}-0` : relayedUpTo;
    if (horizon <= 0) return;
    await this.#o.redis.xtrim(this.#stream, 'MINID', minId);
  }

  /** Entries not yet relayed and the age of the oldest of them. */
  async lag(): Promise<RelayLag> {
    const { redis } = this.#o;
    const [cursor, relayedCount] = await redis.hmget(relayCursorKey(this.cell), 'id', 'n');
    let added = 0;
    try {
      const info = (await redis.xinfo('STREAM', this.#stream)) as unknown[];
      const at = info.indexOf('entries-added');
      added = at >= 0 ? Number(info[at + 1]) : 0;
    } catch {
      return { entries: 0, oldestAgeMs: 0 }; // no stream yet
    }
    const next = (await redis.xrange(this.#stream, `(${cursor ?? '0-0'}`, '+', 'COUNT', 1)) as [
      string,
      string[],
    ][];
    const oldest = next[0] ? Number(next[0][0].slice(0, next[0][0].indexOf('-'))) : undefined;
    return {
      entries: Math.max(0, added - Number(relayedCount ?? 0)),
      oldestAgeMs: oldest === undefined ? 0 : Math.max(0, Date.now() - oldest),
    };
  }

  async #updateLag(): Promise<void> {
    this.#lastLag = Date.now();
    if (!this.#lagEntries) return;
    const lag = await this.lag();
    const labels = { cell: String(this.cell) };
    this.#lagEntries.set(labels, lag.entries);
    this.#lagSeconds?.set(labels, lag.oldestAgeMs / 1000);
  }
}
