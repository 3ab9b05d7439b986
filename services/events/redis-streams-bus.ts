/**
 * The Redis Streams bus (the single-machine default). A topic is `partitions` streams
 * (`<prefix><topic>:p<i>`); an event goes to the partition its key hashes to. A consumer group is one
 * Redis consumer group per partition stream, and each partition is handled by ONE member at a time, the
 * holder of the partition's lease, which is what keeps per-key order across members:
 *
 * - Members heartbeat into a sorted set; partition i belongs to member i mod n of the sorted live members.
 *   A member acquires a free lease of its share, renews its leases every heartbeat, and hands a partition
 *   back (releases the lease) between messages when it is no longer its share.
 * - A member that dies stops renewing: after `sessionTimeoutMs` its leases lapse, another member takes the
 *   partition, claims the dead member's pending entries (XAUTOCLAIM) and handles them first, in order.
 * - An entry is XACKed only after the handler resolved or the entry was dead-lettered.
 */
import { Redis } from 'ioredis';
import type { EventBus, PublishOptions, SubscribeOptions, Subscription } from './bus.ts';
import { deadLetterTopic } from './catalogue.ts';
import { defaultConsumerId, deliver } from './delivery.ts';
import { type EventEnvelope, encodeEvent } from './envelope.ts';
import { EventErrors } from './errors.ts';

export interface RedisStreamsBusOptions {
  /** Key prefix of every stream and group key (default `titan:bus:`). */
  prefix?: string;
  /** Partitions of a topic, fixed by the first publisher or subscriber (default 4). */
  partitions?: number;
  /** Approximate entries kept per partition stream (default 1,000,000). */
  maxLenPerPartition?: number;
  heartbeatMs?: number;
  /** A member silent this long is dead: its partitions move (default 10 s). */
  sessionTimeoutMs?: number;
  /** Entries read per XREADGROUP (default 100). */
  batchSize?: number;
}

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** FNV-1a 32-bit of the key: the partition of a key (stable across processes and versions). */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

export class RedisStreamsBus implements EventBus {
  readonly kind = 'redis' as const;
  readonly #redis: Redis;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #partitions: number;
  readonly #maxLen: number;
  readonly opts: Required<Pick<RedisStreamsBusOptions, 'heartbeatMs' | 'sessionTimeoutMs' | 'batchSize'>>;
  readonly #topicPartitions = new Map<string, number>();
  readonly #subs = new Set<RedisSubscription>();
  #closed = false;

  constructor(redis: Redis | string, options: RedisStreamsBusOptions = {}) {
    this.#ownsClient = typeof redis === 'string';
    this.#redis =
      typeof redis === 'string'
        ? new Redis(redis, { enableAutoPipelining: true, maxRetriesPerRequest: 2 })
        : redis;
    this.#prefix = options.prefix ?? 'titan:bus:';
    this.#partitions = options.partitions ?? 4;
    this.#maxLen = options.maxLenPerPartition ?? 1_000_000;
    this.opts = {
      heartbeatMs: options.heartbeatMs ?? 1000,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      batchSize: options.batchSize ?? 100,
    };
  }

  get redis(): Redis {
    return this.#redis;
  }

  streamKey(topic: string, partition: number): string {
    return `${this.#prefix}${topic}:p${partition}`;
  }

  groupKey(topic: string, group: string, part: string): string {
    return `${this.#prefix}${topic}:g:${group}:${part}`;
  }

  /** The topic's partition count: the first caller fixes it in `<prefix><topic>:meta`. */
  async partitionsOf(topic: string): Promise<number> {
    const known = this.#topicPartitions.get(topic);
    if (known) return known;
    const meta = `${this.#prefix}${topic}:meta`;
    await this.#redis.hsetnx(meta, 'partitions', this.#partitions);
    const n = Number(await this.#redis.hget(meta, 'partitions'));
    this.#topicPartitions.set(topic, n);
    return n;
  }

  async publish(
    topic: string,
    events: readonly EventEnvelope[],
    options: PublishOptions = {},
  ): Promise<void> {
    if (this.#closed) throw EventErrors.BUS_CLOSED();
    if (events.length === 0) return;
    const n = await this.partitionsOf(topic);
    const pipe = this.#redis.pipeline();
    for (const event of events) {
      const key = options.key ? options.key(event) : event.aggregateId;
      const stream = this.streamKey(topic, partitionOf(key, n));
      pipe.xadd(stream, 'MAXLEN', '~', this.#maxLen, '*', 'k', key, 'v', encodeEvent(event));
    }
    const results = await pipe.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? EventErrors.BUS_TIMEOUT('publish got no reply');
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw EventErrors.BUS_CLOSED();
    const n = await this.partitionsOf(options.topic);
    const start = options.fromBeginning === false ? '$' : '0';
    for (let p = 0; p < n; p++) {
      await this.#redis
        .xgroup('CREATE', this.streamKey(options.topic, p), options.group, start, 'MKSTREAM')
        .catch((err: Error) => {
          if (!err.message.includes('BUSYGROUP')) throw err;
        });
    }
    const sub = new RedisSubscription(
      this,
      options,
      n,
      this.#redis.duplicate({ enableAutoPipelining: false }),
    );
    this.#subs.add(sub);
    sub.onClosed = () => this.#subs.delete(sub);
    await sub.start();
    return sub;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.close()));
    if (this.#ownsClient) await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}

class RedisSubscription implements Subscription {
  readonly topic: string;
  readonly group: string;
  readonly consumerId: string;
  onClosed: () => void = () => {};
  readonly #bus: RedisStreamsBus;
  readonly #options: SubscribeOptions;
  readonly #partitions: number;
  /** Blocking reads get their own connection. */
  readonly #conn: Redis;
  readonly #owned = new Set<number>();
  readonly #release = new Set<number>();
  /** Partitions just acquired: their pending entries (ours and claimed) come first. */
  readonly #pendingFirst = new Set<number>();
  #closing = false;
  #timer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  #heartbeat: Promise<void> = Promise.resolve();

  constructor(bus: RedisStreamsBus, options: SubscribeOptions, partitions: number, conn: Redis) {
    this.#bus = bus;
    this.#options = options;
    this.#partitions = partitions;
    this.#conn = conn;
    conn.on('error', () => {});
    this.topic = options.topic;
    this.group = options.group;
    this.consumerId = options.consumerId ?? defaultConsumerId();
  }

  #lease(p: number): string {
    return this.#bus.groupKey(this.topic, this.group, `lease:${p}`);
  }

  async start(): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(() => {
      this.#heartbeat = this.#heartbeat.then(() => this.#beat()).catch(() => {});
    }, this.#bus.opts.heartbeatMs);
    this.#loop = this.#run();
  }

  /** Heartbeat: stay a member, renew held leases, mark what to hand back, take free partitions of our share. */
  async #beat(): Promise<void> {
    if (this.#closing) return;
    const redis = this.#bus.redis;
    const { sessionTimeoutMs } = this.#bus.opts;
    const membersKey = this.#bus.groupKey(this.topic, this.group, 'members');
    const now = Date.now();
    await redis.zadd(membersKey, now + sessionTimeoutMs, this.consumerId);
    await redis.zremrangebyscore(membersKey, '-inf', now);
    await redis.pexpire(membersKey, sessionTimeoutMs * 10);
    const members = (await redis.zrange(membersKey, 0, -1)).sort();
    const me = members.indexOf(this.consumerId);
    for (const p of [...this.#owned]) {
      const ok = await redis.eval(RENEW, 1, this.#lease(p), this.consumerId, sessionTimeoutMs);
      if (ok !== 1) this.#owned.delete(p);
    }
    for (let p = 0; p < this.#partitions; p++) {
      const mine = me >= 0 && p % members.length === me;
      if (!mine && this.#owned.has(p)) this.#release.add(p);
      if (mine && !this.#owned.has(p)) {
        const got = await redis.set(this.#lease(p), this.consumerId, 'PX', sessionTimeoutMs, 'NX');
        if (got === 'OK') await this.#acquired(p);
      }
    }
  }

  async #acquired(p: number): Promise<void> {
    const stream = this.#bus.streamKey(this.topic, p);
    let cursor = '0-0';
    do {
      const reply = (await this.#bus.redis.xautoclaim(
        stream,
        this.group,
        this.consumerId,
        0,
        cursor,
        'COUNT',
        1000,
        'JUSTID',
      )) as [string, string[]];
      cursor = reply[0];
    } while (cursor !== '0-0');
    this.#release.delete(p);
    this.#owned.add(p);
    this.#pendingFirst.add(p);
  }

  async #run(): Promise<void> {
    const { batchSize, heartbeatMs } = this.#bus.opts;
    while (!this.#closing) {
      try {
        for (const p of [...this.#release]) {
          this.#release.delete(p);
          this.#owned.delete(p);
          await this.#bus.redis.eval(RELEASE, 1, this.#lease(p), this.consumerId);
        }
        const owned = [...this.#owned].sort((a, b) => a - b);
        if (owned.length === 0) {
          await sleep(Math.min(heartbeatMs, 200));
          continue;
        }
        const pending = owned.filter((p) => this.#pendingFirst.has(p));
        const parts = pending.length ? pending : owned;
        const streams = parts.map((p) => this.#bus.streamKey(this.topic, p));
        const ids = parts.map(() => (pending.length ? '0' : '>'));
        const args: (string | number)[] = ['GROUP', this.group, this.consumerId, 'COUNT', batchSize];
        if (!pending.length) args.push('BLOCK', Math.min(heartbeatMs, 500));
        const reply = (await (this.#conn as unknown as BufferReads).xreadgroupBuffer(
          ...args,
          'STREAMS',
          ...streams,
          ...ids,
        )) as [Buffer, [Buffer, Buffer[] | null][]][] | null;
        const got = new Map<number, [Buffer, Buffer[] | null][]>();
        for (const [streamName, entries] of reply ?? []) {
          got.set(parts[streams.indexOf(streamName.toString())]!, entries);
        }
        for (const p of pending) if (!got.get(p)?.length) this.#pendingFirst.delete(p);
        for (const [p, entries] of got) await this.#handle(p, entries);
      } catch (err) {
        if (this.#closing) break;
        if (!EventErrors.BUS_CLOSED.is(err)) await sleep(200);
      }
    }
  }

  async #handle(p: number, entries: [Buffer, Buffer[] | null][]): Promise<void> {
    const stream = this.#bus.streamKey(this.topic, p);
    for (const [idBuf, fields] of entries) {
      if (this.#closing || !this.#owned.has(p) || this.#release.has(p)) return; // left pending for the next owner
      const id = idBuf.toString();
      if (!fields) {
        await this.#bus.redis.xack(stream, this.group, id); // trimmed away while pending
        continue;
      }
      const f = new Map<string, Buffer>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!.toString(), fields[i + 1]!);
      await deliver(
        {
          raw: f.get('v') ?? Buffer.alloc(0),
          topic: this.topic,
          group: this.group,
          key: f.get('k')?.toString() ?? '',
          partition: p,
        },
        {
          options: this.#options,
          stopping: () => this.#closing,
          deadLetter: (topic, event, key) =>
            this.#bus.publish(deadLetterTopic(topic), [event], { key: () => key }),
        },
      );
      await this.#bus.redis.xack(stream, this.group, id);
    }
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#timer);
    await this.#heartbeat;
    await this.#loop;
    const redis = this.#bus.redis;
    await Promise.all(
      [...this.#owned].map((p) => redis.eval(RELEASE, 1, this.#lease(p), this.consumerId)),
    ).catch(() => {});
    await redis.zrem(this.#bus.groupKey(this.topic, this.group, 'members'), this.consumerId).catch(() => {});
    this.#conn.disconnect();
    this.onClosed();
  }
}

/** ioredis has xreadgroupBuffer at run time but does not declare it. */
interface BufferReads {
  xreadgroupBuffer(...args: (string | number)[]): Promise<unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
