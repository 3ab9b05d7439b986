/**
 * ws-fanout: thousands of WebSocket clients (10,000 by default) subscribed to one sale; purchases change its
 * stock; every client's arrival time of each update is recorded. Two latencies: from the edge publishing the
 * update (the message's `at`) to its arrival, and from the stock change (the purchase answered) to its arrival,
 * which includes how the edge learns of it (the flash-sale service's snapshot tick and the edge's directory
 * poll). Also the edge's resident memory per connection. The clients are raw-socket WebSockets in the runner
 * process, which handles the arrivals one after another: the spread includes that client-side cost.
 */
import { request } from 'undici';
import { type BenchContext, shuffled } from '../lib/context.ts';
import { rssBytes } from '../lib/cpu.ts';
import { createSale, endSale, waitForSale } from '../lib/platform.ts';
import { RawWsClient } from '../lib/ws-client.ts';
import type { WsFanoutResult } from '../report/document.ts';

const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN;
const summary = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return { p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.length ? s[s.length - 1]! : Number.NaN };
};

export async function wsFanoutScenario(ctx: BenchContext): Promise<WsFanoutResult> {
  const N = ctx.settings.wsClients;
  const UPDATES = ctx.settings.smoke ? 2 : 10;
  const tokens = shuffled(
    ctx.users.map((u) => u.token),
    7,
  );
  ctx.log(`ws-fanout: ${N} clients`);
  const saleId = await createSale(ctx.stack.edgeUrl, ctx.operatorToken, {
    stock: 1_000_000,
    perUserLimit: 1000,
    title: 'bench ws-fanout',
  });
  const edgePid = ctx.stack.pid('edge');
  const rssBefore = rssBytes(edgePid);
  const port = ctx.stack.ports.edge;
  const topic = `flash-sale:${saleId}`;
  const clients: RawWsClient[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i += 500) {
    const wave = Array.from({ length: Math.min(500, N - i) }, (_, j) => {
      const c = new RawWsClient(port, `/v1/ws?access_token=${tokens[(i + j) % tokens.length]}`);
      clients.push(c);
      return c.opened().then(() => c.send(JSON.stringify({ op: 'subscribe', topic })));
    });
    await Promise.all(wave);
  }
  // Every client acknowledged its subscription.
  const acked = (c: RawWsClient) => c.arrivals.some((a) => a.text.includes('"ack"'));
  for (let i = 0; i < 200 && clients.some((c) => !acked(c)); i++) await new Promise((r) => setTimeout(r, 50));
  const subscribed = clients.filter(acked).length;
  ctx.log(`  ${subscribed}/${N} subscribed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await new Promise((r) => setTimeout(r, 1000));
  const rssAfter = rssBytes(edgePid);
  for (const c of clients) c.arrivals.length = 0;

  // Each update: one purchase through the edge; the stock it leaves is the update's `remaining`.
  const changes: { remaining: number; at: number }[] = [];
  const initial = (await waitForSale(ctx.stack.edgeUrl, saleId, () => true)).remaining;
  for (let k = 1; k <= UPDATES; k++) {
    const r = await request(`${ctx.stack.edgeUrl}/v1/flash-sales/${saleId}/purchase`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokens[k]}`,
        'idempotency-key': `ws-${ctx.runId}-${k}`,
        'content-type': 'application/json',
      },
      body: '{"qty":1}',
    });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`ws-fanout purchase answered ${r.statusCode}`);
    changes.push({ remaining: initial - k, at: performance.timeOrigin + performance.now() });
    await waitForSale(ctx.stack.edgeUrl, saleId, (s) => s.remaining <= initial - k);
    await new Promise((res) => setTimeout(res, ctx.settings.smoke ? 300 : 700));
  }
  await new Promise((res) => setTimeout(res, 500));

  const publishToClient: number[] = [];
  const changeToClient: number[] = [];
  const lastPerUpdate: number[] = [];
  let missed = 0;
  const byRemaining = new Map(changes.map((c) => [c.remaining, c.at]));
  const lastArrival = new Map<number, { at: number; publishedAt: number }>();
  for (const c of clients) {
    const seen = new Set<number>();
    for (const a of c.arrivals) {
      const m = JSON.parse(a.text) as { type?: string; remaining?: number; at?: number };
      if (m.type !== 'sale' || m.remaining === undefined || m.at === undefined) continue;
      const changedAt = byRemaining.get(m.remaining);
      if (changedAt === undefined || seen.has(m.remaining)) continue;
      seen.add(m.remaining);
      publishToClient.push(a.at - m.at);
      changeToClient.push(a.at - changedAt);
      const last = lastArrival.get(m.remaining);
      if (!last || a.at > last.at) lastArrival.set(m.remaining, { at: a.at, publishedAt: m.at });
    }
    missed += changes.filter(
      (ch) => !seen.has(ch.remaining) && !coalesced(ch.remaining, c, byRemaining),
    ).length;
  }
  for (const v of lastArrival.values()) lastPerUpdate.push(v.at - v.publishedAt);
  const connected = clients.filter((c) => !c.closed).length;
  for (const c of clients) c.close();
  await endSale(ctx.stack.edgeUrl, ctx.operatorToken, saleId);
  const last = summary(lastPerUpdate);
  const result: WsFanoutResult = {
    clients: N,
    connected,
    subscribed,
    updates: UPDATES,
    publishToClientMs: summary(publishToClient),
    changeToClientMs: summary(changeToClient),
    lastClientMs: { p50: last.p50, p99: last.p99 },
    edgeRssBeforeBytes: rssBefore,
    edgeRssAfterBytes: rssAfter,
    bytesPerConnection: (rssAfter - rssBefore) / Math.max(1, subscribed),
    missed,
  };
  ctx.log(
    `  publish->client p50 ${result.publishToClientMs.p50.toFixed(1)} p99 ${result.publishToClientMs.p99.toFixed(1)} ms; ` +
      `change->client p50 ${result.changeToClientMs.p50.toFixed(1)} p99 ${result.changeToClientMs.p99.toFixed(1)} ms; ` +
      `${Math.round(result.bytesPerConnection)} B/connection; missed ${missed}`,
  );
  return result;
}

/** An update a client did not see because the feed coalesced it into a later one (at most 10 per second). */
function coalesced(remaining: number, c: RawWsClient, byRemaining: Map<number, number>): boolean {
  return c.arrivals.some((a) => {
    const m = JSON.parse(a.text) as { remaining?: number };
    return m.remaining !== undefined && m.remaining < remaining && byRemaining.has(m.remaining);
  });
}
