/** W3C trace context by hand: cheap enough for the hot path (no SDK span per request). */
import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A `traceparent` for the next hop: the caller's trace continued with a new span id, or a new trace. */
export function nextTraceparent(incoming: string | undefined): string {
  const m = incoming ? TRACEPARENT.exec(incoming) : null;
  const span = randomBytes(8).toString('hex');
  if (m && m[1] !== '0'.repeat(32)) return `00-${m[1]}-${span}-${m[3]}`;
  return `00-${randomBytes(16).toString('hex')}-${span}-01`;
}
