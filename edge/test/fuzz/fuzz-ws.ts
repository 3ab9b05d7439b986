/**
 * Fuzzes `/v1/ws` over raw sockets with hand-made frames: upgrades with valid, garbage or no tokens;
 * text frames holding JSON of random shapes and every op with wrong types; random binary frames;
 * invalid UTF-8; payloads over maxPayload; unmasked frames, reserved opcodes, fragments; rapid floods.
 * A well-formed message must get a reply (an error reply has a code), never a disconnect; protocol
 * violations may be closed; the edge stays up and its connection count returns to where it was.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { anyJson, nastyNumber, nastyString } from './arbitraries.ts';
import { checkAlive, type FuzzBudget } from './fuzz-http.ts';
import type { FuzzTarget } from './fuzz-target.ts';
import { checkAnswer, type FuzzReport, violate } from './report.ts';
import { diffSnapshots, StateProbe } from './state.ts';

/** A client frame; `mask: false` breaks the protocol (clients must mask). */
export function frame(opcode: number, payload: Buffer, opts: { fin?: boolean; mask?: boolean } = {}): Buffer {
  const fin = opts.fin ?? true;
  const masked = opts.mask ?? true;
  const n = payload.length;
  const head = [((fin ? 0x80 : 0) | opcode) & 0xff];
  const m = masked ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (n < 126) head.push(m | n);
  else if (n < 65536) {
    head.push(m | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(n);
  } else {
    head.push(m | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(n));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = randomBytes(4);
  return Buffer.concat([Buffer.from(head), ext, key, payload.map((b, i) => b ^ key[i % 4]!)]);
}

/** Server frames (unmasked) found in `buf`: opcode and payload; stops at an incomplete one. */
function parseFrames(buf: Buffer): { opcode: number; payload: Buffer }[] {
  const out: { opcode: number; payload: Buffer }[] = [];
  let at = 0;
  while (at + 2 <= buf.length) {
    const opcode = buf[at]! & 0x0f;
    let len = buf[at + 1]! & 0x7f;
    let off = at + 2;
    if (len === 126) {
      if (off + 2 > buf.length) break;
      len = buf.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      if (off + 8 > buf.length) break;
      len = Number(buf.readBigUInt64BE(off));
      off += 8;
    }
    if (off + len > buf.length) break;
    out.push({ opcode, payload: buf.subarray(off, off + len) });
    at = off + len;
  }
  return out;
}

interface WsCase {
  upgrade: 'header' | 'query' | 'none' | 'garbage' | 'first-message';
  frames: { bytes: Buffer; wellFormed: boolean; replies: number }[];
  flood: boolean;
}

function wsCaseArb(t: FuzzTarget, maxPayload: number): fc.Arbitrary<WsCase> {
  const tokens = t.buyers.map((b) => b.token);
  const topic = `flash-sale:${t.liveSaleId}`;
  const op = fc.oneof(
    fc.constantFrom('auth', 'subscribe', 'unsubscribe', 'ping'),
    nastyString,
    nastyNumber,
    fc.constant(null),
    anyJson,
  );
  const message = fc.oneof(
    fc.record(
      {
        op,
        topic: fc.oneof(fc.constant(topic), fc.constant('flash-sale:nope'), nastyString, anyJson),
        token: fc.oneof(fc.constantFrom(...tokens), nastyString, anyJson),
        id: fc.oneof(fc.integer(), nastyString, anyJson),
      },
      { requiredKeys: [] },
    ),
    anyJson,
  );
  const text = (s: string) => frame(0x1, Buffer.from(s, 'utf8'));
  const oneFrame = fc.oneof(
    {
      weight: 6,
      arbitrary: message.map((m) => {
        const json = JSON.stringify(m) ?? 'null';
        // Over maxPayload, uWS closes the connection: a protocol limit, not a message to answer.
        const fits = Buffer.byteLength(json) <= maxPayload;
        return { bytes: text(json), wellFormed: fits, replies: fits ? 1 : 0 };
      }),
    },
    {
      weight: 2,
      arbitrary: nastyString
        .filter((s) => Buffer.byteLength(s) <= maxPayload)
        .map((s) => ({ bytes: text(s), wellFormed: true, replies: 1 })),
    },
    {
      weight: 2,
      arbitrary: fc
        .uint8Array({ maxLength: 512 })
        .map((b) => ({ bytes: frame(0x2, Buffer.from(b)), wellFormed: true, replies: 1 })),
    },
    {
      weight: 1,
      arbitrary: fc.constant({ bytes: frame(0x9, Buffer.from('hi')), wellFormed: true, replies: 0 }),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: maxPayload + 1, max: maxPayload * 40 }).map((n) => ({
        bytes: text(JSON.stringify({ op: 'ping', pad: 'p'.repeat(n) })),
        wellFormed: false,
        replies: 0,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        { bytes: frame(0x1, Buffer.from([0xc3, 0x28, 0xff])), wellFormed: false, replies: 0 },
        { bytes: frame(0x1, Buffer.from('{"op":"ping"}'), { mask: false }), wellFormed: false, replies: 0 },
        { bytes: frame(0x3, Buffer.from('x')), wellFormed: false, replies: 0 },
        { bytes: frame(0x1, Buffer.from('{"op":'), { fin: false }), wellFormed: false, replies: 0 },
        { bytes: frame(0x0, Buffer.from('"x"')), wellFormed: false, replies: 0 },
        { bytes: frame(0x8, Buffer.from([0x03, 0xe8, 0xff])), wellFormed: false, replies: 0 },
        {
          bytes: Buffer.from([0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
          wellFormed: false,
          replies: 0,
        },
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ minLength: 1, maxLength: 64 })
        .map((b) => ({ bytes: Buffer.from(b), wellFormed: false, replies: 0 })),
    },
  );
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        upgrade: fc.constantFrom('header', 'query', 'none', 'garbage', 'first-message'),
        frames: fc.array(oneFrame, { minLength: 1, maxLength: 12 }),
        flood: fc.constant(false),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 60, max: 400 }).map((n) => ({
        upgrade: 'header' as const,
        frames: Array.from({ length: n }, () => ({
          bytes: text('{"op":"ping"}'),
          wellFormed: true,
          replies: 1,
        })),
        flood: true,
      })),
    },
  );
}

async function session(t: FuzzTarget, c: WsCase, report: FuzzReport): Promise<void> {
  const token = t.buyers[0]!.token;
  const path =
    c.upgrade === 'query'
      ? `/v1/ws?access_token=${token}`
      : c.upgrade === 'garbage'
        ? `/v1/ws?access_token=${encodeURIComponent('a.b.c')}`
        : '/v1/ws';
  const auth = c.upgrade === 'header' ? `Authorization: Bearer ${token}\r\n` : '';
  const socket: Socket = connect(t.port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
  });
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${auth}` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const wait = async (check: () => boolean, ms: number) => {
    for (let i = 0; i < ms / 10 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  };
  await wait(() => buf.includes('\r\n\r\n') || closed, 3000);
  report.ws.connections++;
  const headEnd = buf.indexOf('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf.toString('latin1'))?.[1] ?? 0);
  const what = `ws ${c.upgrade} ${c.frames.length} frames: ${c.frames
    .slice(0, 4)
    .map((f) => JSON.stringify(f.bytes.subarray(0, 80).toString('latin1')))
    .join(' ')}`;
  if (status !== 101) {
    if (c.upgrade !== 'garbage') violate(report, 'noCode', `upgrade answered ${status} <- ${what}`);
    else checkAnswer(report, status, {}, buf.subarray(headEnd + 4).toString(), what);
    socket.destroy();
    return;
  }
  buf = buf.subarray(headEnd + 4);
  let sent = 0;
  let expected = 0;
  let wellFormed = !c.flood;
  if (c.upgrade === 'first-message') {
    socket.write(frame(0x1, Buffer.from(JSON.stringify({ op: 'auth', token, id: 'a' }))));
    expected++;
  }
  for (const f of c.frames) {
    if (closed) break;
    socket.write(f.bytes);
    sent++;
    expected += f.replies;
    if (!f.wellFormed) {
      wellFormed = false;
      break; // after a protocol violation the stream is not frames any more
    }
  }
  report.ws.frames += sent;
  const replies = () => parseFrames(buf).filter((f) => f.opcode === 0x1);
  await wait(() => closed || replies().length >= expected, wellFormed ? 3000 : 600);
  const got = replies();
  report.ws.replies += got.length;
  for (const r of got) {
    let m: { type?: unknown; code?: unknown } | undefined;
    try {
      m = JSON.parse(r.payload.toString('utf8'));
    } catch {}
    if (!m || typeof m.type !== 'string') {
      violate(
        report,
        'noCode',
        `ws reply not a typed JSON message: ${r.payload.subarray(0, 100)} <- ${what}`,
      );
    } else if (m.type === 'error') {
      report.ws.errorReplies++;
      if (typeof m.code !== 'string' || m.code.length === 0)
        violate(report, 'noCode', `ws error reply without a code: ${r.payload.subarray(0, 100)} <- ${what}`);
    }
  }
  if (closed) report.ws.closedByServer++;
  if (wellFormed) {
    if (closed) {
      const close = parseFrames(buf).find((f) => f.opcode === 0x8);
      const why = close ? `${close.payload.readUInt16BE(0)} ${close.payload.subarray(2)}` : 'no close frame';
      violate(
        report,
        'noCode',
        `well-formed messages got a disconnect (${why}), not error replies <- ${what}`,
      );
    } else if (got.length < expected)
      violate(report, 'hangs', `${expected} messages, ${got.length} replies <- ${what}`);
  }
  if (c.flood && !got.some((r) => r.payload.includes('RATE_LIMITED')))
    violate(report, 'noCode', `a flood of ${sent} messages was not rate limited <- ${what}`);
  socket.destroy();
}

export async function fuzzWs(t: FuzzTarget, budget: FuzzBudget, report: FuzzReport): Promise<void> {
  const probe = new StateProbe(t);
  const before = await probe.snapshot();
  const connectionsBefore = t.h.edge.ws.connections;
  const arb = wsCaseArb(t, 4096);
  const deadline = budget.seconds ? Date.now() + budget.seconds * 1000 : Number.POSITIVE_INFINITY;
  for (let i = 0; i < budget.numRuns && Date.now() < deadline; i += 6) {
    const batch = fc.sample(arb, { seed: budget.seed + i, numRuns: Math.min(6, budget.numRuns - i) });
    await Promise.all(batch.map((c) => session(t, c, report)));
    await checkAlive(t, report, `WebSocket batch ${i / 6 + 1}`);
  }
  for (let i = 0; i < 100 && t.h.edge.ws.connections > connectionsBefore; i++)
    await new Promise((r) => setTimeout(r, 20));
  if (t.h.edge.ws.connections > connectionsBefore)
    violate(report, 'crashes', `${t.h.edge.ws.connections - connectionsBefore} WebSocket connections leaked`);
  const problems = diffSnapshots(before, await probe.snapshot());
  if (problems.length > 0) violate(report, 'stateChanges', `WebSocket fuzz changed ${problems.join('; ')}`);
}
