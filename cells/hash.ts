/**
 * User id -> slot. CRC16-CCITT (XMODEM: poly 0x1021, init 0) over the id's UTF-8 bytes, masked to
 * 14 bits: the function Redis Cluster uses for CLUSTER KEYSLOT (without its `{tag}` rule).
 * Allocation-free: the string is encoded to UTF-8 on the fly, never copied.
 */
import { SLOT_COUNT } from './schema.ts';

const SLOT_MASK = SLOT_COUNT - 1;

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  TABLE[i] = crc & 0xffff;
}

function step(crc: number, byte: number): number {
  return ((crc << 8) ^ TABLE[((crc >>> 8) ^ byte) & 0xff]!) & 0xffff;
}

/** CRC16 of the UTF-8 encoding of `s`. Lone surrogates count as U+FFFD, as `TextEncoder` does. */
export function crc16(s: string): number {
  let crc = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      crc = ((crc << 8) ^ TABLE[((crc >>> 8) ^ c) & 0xff]!) & 0xffff;
    } else if (c < 0x800) {
      crc = step(step(crc, 0xc0 | (c >> 6)), 0x80 | (c & 0x3f));
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          crc = step(step(crc, 0xf0 | (cp >> 18)), 0x80 | ((cp >> 12) & 0x3f));
          crc = step(step(crc, 0x80 | ((cp >> 6) & 0x3f)), 0x80 | (cp & 0x3f));
          continue;
        }
        c = 0xfffd;
      }
      crc = step(step(step(crc, 0xe0 | (c >> 12)), 0x80 | ((c >> 6) & 0x3f)), 0x80 | (c & 0x3f));
    }
  }
  return crc;
}

/** CRC16 of raw bytes; the reference the string path is tested against. */
export function crc16Bytes(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = step(crc, bytes[i]!);
  return crc;
}

/** The slot of a user id. Stable across processes and releases: changing it would move every user. */
export function slotOf(userId: string): number {
  return crc16(userId) & SLOT_MASK;
}

/*
 * Numeric ids go four decimal digits at a time. CRC16 is linear, so after a 4-byte chunk
 * crc' = crc(crc, "0000") ^ crc(0, chunk), and crc(crc, "0000") splits over the crc's two bytes.
 */
const LEAD = new Uint16Array(10_000); // crc(0, String(v)): the unpadded first group
const CHUNK = new Uint16Array(10_000); // crc(0, v as 4 zero-padded digits)
const ZERO_HI = new Uint16Array(256);
const ZERO_LO = new Uint16Array(256);
for (let v = 0; v < 10_000; v++) {
  LEAD[v] = crc16(String(v));
  CHUNK[v] = crc16(String(v).padStart(4, '0'));
}
for (let b = 0; b < 256; b++) {
  let hi = b << 8;
  let lo = b;
  for (let k = 0; k < 4; k++) {
    hi = step(hi, 0x30);
    lo = step(lo, 0x30);
  }
  ZERO_HI[b] = hi ^ CHUNK[0]!;
  ZERO_LO[b] = lo ^ CHUNK[0]!;
}

function chunk(crc: number, v: number): number {
  return ZERO_HI[crc >>> 8]! ^ ZERO_LO[crc & 0xff]! ^ CHUNK[v]!;
}

/**
 * Fast path for numeric ids: the same slot as `slotOf(String(id))`, without building the string.
 * Non-integers, negatives and unsafe integers take the string path.
 */
export function slotOfNumber(id: number): number {
  if (!Number.isSafeInteger(id) || id < 0) return slotOf(String(id));
  // id = hi * 1e8 + lo, both small enough for int32 arithmetic.
  let hi = 0;
  let lo = id;
  if (id >= 1e8) {
    hi = Math.floor(id / 1e8);
    lo = id - hi * 1e8;
    if (lo < 0) {
      hi--;
      lo += 1e8;
    } else if (lo >= 1e8) {
      hi++;
      lo -= 1e8;
    }
  }
  const c = (lo / 10_000) | 0;
  const d = lo - c * 10_000;
  let crc: number;
  if (hi === 0) {
    crc = c === 0 ? LEAD[d]! : chunk(LEAD[c]!, d);
  } else {
    const a = (hi / 10_000) | 0;
    const b = hi - a * 10_000;
    crc = chunk(chunk(a === 0 ? LEAD[b]! : chunk(LEAD[a]!, b), c), d);
  }
  return crc & SLOT_MASK;
}
