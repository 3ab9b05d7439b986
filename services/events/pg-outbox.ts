/**
 * The PostgreSQL outbox. `writeOutbox(client, event)` inserts the event in the caller's transaction, so it
 * exists exactly when the state change does. `PgOutboxRelay` publishes unpublished rows and marks them.
 *
 * Several relays may run: rows are spread over OUTBOX_SHARDS by their partition key; a relay takes a
 * shard with a transaction-scoped advisory lock (skipping shards another relay holds), then its rows in seq
 * order `FOR UPDATE SKIP LOCKED`, publishes them, and marks them published in the same transaction. One key
 * is in one shard, so its rows are published by one relay at a time, in order. A relay that dies after
 * publishing but before committing leaves the rows unpublished: they are published again (same event ids),
 * and idempotent consumers absorb the copy.
 */
import type { Logger, Pool, PoolClient } from '../kit/index.ts';
import type { EventBus } from './bus.ts';
import { topicOf, validateEvent } from './catalogue.ts';
import { decodeEvent, type EventEnvelope, encodeEvent } from './envelope.ts';
import { partitionOf } from './redis-streams-bus.ts';

export const OUTBOX_SHARDS = 16;
const LOCK_NAMESPACE = 0x6f757462; // 'outb'

export interface WriteOutboxOptions {
  /** Default: the catalogue topic of the event's type. */
  topic?: string;
  /** Default: the event's aggregate id. */
  key?: string;
}

/** Inserts the event (validated against the catalogue) inside the caller's open transaction. */
export async function writeOutbox(
  client: PoolClient,
  event: EventEnvelope,
  options: WriteOutboxOptions = {},
): Promise<void> {
  validateEvent(event);
  const key = options.key ?? event.aggregateId;
  await client.query(
    `INSERT INTO titan_outbox (event_id, event_type, topic, partition_key, shard, body)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      event.id,
      event.type,
      options.topic ?? topicOf(event.type),
      key,
      partitionOf(key, OUTBOX_SHARDS),
      encodeEvent(event),
    ],
  );
}

export interface PgOutboxRelayOptions {
  pool: Pool;
  bus: EventBus;
  batchSize?: number;
  pollMs?: number;
  log?: Logger;
}

export class PgOutboxRelay {
  readonly #o: Required<Omit<PgOutboxRelayOptions, 'log'>> & Pick<PgOutboxRelayOptions, 'log'>;
  #running: Promise<void> | undefined;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;

  constructor(options: PgOutboxRelayOptions) {
    this.#o = { batchSize: 500, pollMs: 100, ...options };
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let n = 0;
      try {
        n = await this.relayOnce();
      } catch (err) {
        this.#o.log?.error({ err }, 'pg outbox relay round failed; retrying');
        await this.#sleep(1000);
        continue;
      }
      if (n === 0) await this.#sleep(this.#o.pollMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }

  /** One round over every shard with unpublished rows that no other relay holds. Returns rows published. */
  async relayOnce(): Promise<number> {
    const { rows } = await this.#o.pool.query<{ shard: number }>(
      'SELECT DISTINCT shard FROM titan_outbox WHERE published_at IS NULL',
    );
    let total = 0;
    for (const { shard } of rows) total += await this.#relayShard(shard);
    return total;
  }

  async #relayShard(shard: number): Promise<number> {
    const client = await this.#o.pool.connect();
    try {
      await client.query('BEGIN');
      const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, $2) AS ok', [
        LOCK_NAMESPACE,
        shard,
      ]);
      if (!lock.rows[0]?.ok) {
        await client.query('ROLLBACK');
        return 0;
      }
      const { rows } = await client.query<{
        seq: string;
        topic: string;
        partition_key: string;
        body: Buffer;
      }>(
        `SELECT seq, topic, partition_key, body FROM titan_outbox
          WHERE published_at IS NULL AND shard = $1
          ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [shard, this.#o.batchSize],
      );
      const byTopic = new Map<string, { key: string; event: EventEnvelope }[]>();
      for (const r of rows) {
        let list = byTopic.get(r.topic);
        if (!list) {
          list = [];
          byTopic.set(r.topic, list);
        }
        list.push({ key: r.partition_key, event: decodeEvent(r.body) });
      }
      for (const [topic, items] of byTopic) {
        const keys = new Map(items.map((i) => [i.event.id, i.key]));
        await this.#o.bus.publish(
          topic,
          items.map((i) => i.event),
          { key: (e) => keys.get(e.id) ?? e.aggregateId },
        );
      }
      await client.query('UPDATE titan_outbox SET published_at = now() WHERE seq = ANY($1::bigint[])', [
        rows.map((r) => r.seq),
      ]);
      await client.query('COMMIT');
      return rows.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** Deletes published rows older than `olderThanMs`. */
  async prune(olderThanMs: number): Promise<number> {
    const r = await this.#o.pool.query(
      "DELETE FROM titan_outbox WHERE published_at < now() - ($1::bigint * interval '1 millisecond')",
      [olderThanMs],
    );
    return r.rowCount ?? 0;
  }
}
