/**
 * Buyers under faults, behaving as the API asks clients to: every purchase attempt has its own
 * Idempotency-Key, and a 503 (BUSY, CELL_UNAVAILABLE, ...), a 5xx or a broken connection is retried with
 * the SAME key until a final answer (200, or a 4xx) or the attempt's deadline. Every answer is recorded:
 * the acknowledged reservations (what the post-run checks look for), the final answers by code, and a
 * timeline of answers per 250 ms per group of users (to measure blast radius and recovery).
 */
import { Agent, request } from 'undici';
import type { BenchUser } from '../../native-bench/lib/users.ts';

export const BUCKET_MS = 250;

export interface Acknowledged {
  user: number;
  key: string;
  reservationId: string;
  qty: number;
}

/** Answers in one time bucket: final (200/4xx) vs failed tries (503, 5xx, connection errors). */
export interface Bucket {
  final: number;
  ok: number;
  failed: number;
  /** Failed tries answered 503 CELL_UNAVAILABLE. */
  unavailable: number;
  /**
   * Failed tries answered 503 BUSY `quota_refill`: the buyer's cell ran out of quota while stock remains
   * elsewhere and the rebalancer is moving some (the sale's allocation at work, not a fault's symptom).
   */
  refill: number;
  /** Failed tries answered 503 with a code (CELL_UNAVAILABLE, BUSY, ...) and Retry-After: what a fault may answer. */
  coded503: number;
}

export interface LoadOutcome {
  attempts: number;
  /** Attempts that reached a final answer. */
  answered: number;
  /** Attempts still without a final answer at their deadline. */
  abandoned: number;
  acknowledged: Acknowledged[];
  /** Final answers by code (`200`, `SOLD_OUT`, `LIMIT_REACHED`, ...) and failed tries by code. */
  finals: Record<string, number>;
  retries: Record<string, number>;
  /** Retried answers by `code:reason` where the answer gave a reason (BUSY: quota_refill, queue_full, ...). */
  retryReasons: Record<string, number>;
  /** Per group, answers per BUCKET_MS since `startedAt`. */
  timeline: Map<string, Bucket[]>;
  startedAt: number;
  durationMs: number;
}

export interface LoadPlan {
  base: string;
  saleId: string;
  users: BenchUser[];
  attemptsPerUser: number;
  connections: number;
  /** The group a user's answers are counted in (e.g. `affected` / `other`); default one group. */
  groupOf?: (user: number) => string;
  /** Attempts started per second (an open-loop arrival rate, as shoppers arrive); default: as fast as answered. */
  ratePerSecond?: number;
  /** Give up on one attempt after this long (default 60 s). */
  attemptDeadlineMs?: number;
  keyPrefix: string;
}

export interface RunningLoad {
  /** Fraction of attempts started, 0..1. */
  progress(): number;
  /** Resolves once `fraction` of the attempts have started. */
  reached(fraction: number): Promise<void>;
  done: Promise<LoadOutcome>;
  /** Milliseconds since the load started (the timeline's clock). */
  now(): number;
}

function bucketOf(timeline: Map<string, Bucket[]>, group: string, t: number): Bucket {
  let series = timeline.get(group);
  if (!series) {
    series = [];
    timeline.set(group, series);
  }
  const i = Math.floor(t / BUCKET_MS);
  for (let k = series.length; k <= i; k++)
    series.push({ final: 0, ok: 0, failed: 0, unavailable: 0, refill: 0, coded503: 0 });
  return series[i]!;
}

export function startLoad(plan: LoadPlan): RunningLoad {
  const total = plan.users.length * plan.attemptsPerUser;
  const deadlineMs = plan.attemptDeadlineMs ?? 60_000;
  const groupOf = plan.groupOf ?? (() => 'all');
  // Connections are not kept across a failure: a request after an error opens a new one, which the kernel
  // may hand to another edge process (SO_REUSEPORT).
  const agent = new Agent({ connections: plan.connections, pipelining: 1, keepAliveTimeout: 10_000 });
  const startedAt = Date.now();
  const now = () => Date.now() - startedAt;
  const out: LoadOutcome = {
    attempts: total,
    answered: 0,
    abandoned: 0,
    acknowledged: [],
    finals: {},
    retries: {},
    retryReasons: {},
    timeline: new Map(),
    startedAt,
    durationMs: 0,
  };
  let next = 0;
  const waiters: { fraction: number; resolve: () => void }[] = [];
  const wake = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (next / total >= waiters[i]!.fraction) waiters.splice(i, 1)[0]!.resolve();
    }
  };

  const attempt = async (i: number): Promise<void> => {
    // Attempt i: user i % U, the user's (i / U)th attempt, so each user's attempts spread over the run.
    const user = i % plan.users.length;
    const key = `${plan.keyPrefix}-${i}`;
    const group = groupOf(user);
    const giveUp = Date.now() + deadlineMs;
    const token = plan.users[user]!.token;
    for (let tries = 0; ; tries++) {
      let status = 0;
      let code = 'CONNECTION_ERROR';
      let body: { reservationId?: string; qty?: number; code?: string; reason?: string } = {};
      let retryAfter = false;
      try {
        const r = await request(`${plan.base}/v1/flash-sales/${plan.saleId}/purchase`, {
          method: 'POST',
          dispatcher: agent,
          headers: {
            authorization: `Bearer ${token}`,
            'idempotency-key': key,
            'content-type': 'application/json',
          },
          body: '{"qty":1}',
          headersTimeout: 15_000,
          bodyTimeout: 15_000,
        });
        status = r.statusCode;
        retryAfter = r.headers['retry-after'] !== undefined;
        const text = await r.body.text();
        body = text ? JSON.parse(text) : {};
        code = status === 200 ? '200' : (body.code ?? `HTTP_${status}`);
      } catch (err) {
        code = (err as { code?: string }).code ?? 'CONNECTION_ERROR';
      }
      const b = bucketOf(out.timeline, group, now());
      // 429 (rate limited) and 408 ask for a retry like a 503 does; other 4xx are answers.
      const final = status === 200 || (status >= 400 && status < 500 && status !== 429 && status !== 408);
      if (final) {
        b.final++;
        out.answered++;
        out.finals[code] = (out.finals[code] ?? 0) + 1;
        if (status === 200) {
          b.ok++;
          out.acknowledged.push({ user, key, reservationId: body.reservationId!, qty: body.qty ?? 1 });
        }
        return;
      }
      b.failed++;
      if (code === 'CELL_UNAVAILABLE') b.unavailable++;
      if (body.reason === 'quota_refill') b.refill++;
      if (status === 503 && body.code && retryAfter) b.coded503++;
      out.retries[code] = (out.retries[code] ?? 0) + 1;
      if (body.reason) {
        const why = `${code}:${body.reason}`;
        out.retryReasons[why] = (out.retryReasons[why] ?? 0) + 1;
      }
      if (Date.now() > giveUp) {
        out.abandoned++;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(200, 20 * (tries + 1))));
    }
  };

  const done = (async () => {
    // Paced attempts must not wait for a slot behind attempts stuck in retries: more workers than sockets.
    const workers = plan.ratePerSecond ? plan.connections * 4 : plan.connections;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < total) {
          const i = next++;
          wake();
          if (plan.ratePerSecond) {
            const due = startedAt + (i * 1000) / plan.ratePerSecond - Date.now();
            if (due > 0) await new Promise((r) => setTimeout(r, due));
          }
          await attempt(i);
        }
      }),
    );
    out.durationMs = now();
    await agent.close();
    for (const w of waiters.splice(0)) w.resolve();
    return out;
  })();

  return {
    progress: () => next / total,
    reached: (fraction) =>
      next / total >= fraction
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ fraction, resolve })),
    done,
    now,
  };
}
