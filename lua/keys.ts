/**
 * The Redis key layout of the lua scripts (see README.md). Every key of one script call shares one Redis
 * Cluster hash tag: `{c<cell>}` for a cell, `{fs:<saleId>}` for a sale's pool, `{vc:<voucherId>}` for a voucher.
 */
export const cellTag = (cell: string): string => `{c${cell}}`;
export const saleTag = (saleId: string): string => `{fs:${saleId}}`;
export const voucherTag = (voucherId: string): string => `{vc:${voucherId}}`;

/** The keys of one flash sale inside one cell, in the KEYS order of flash-sale-purchase. */
export function saleCellKeys(cell: string, saleId: string) {
  const base = `${cellTag(cell)}:fs:${saleId}`;
  return {
    sale: base,
    users: `${base}:u`,
    reservations: `${base}:r`,
    expiry: `${base}:x`,
    outbox: `${cellTag(cell)}:outbox`,
    seq: `${cellTag(cell)}:seq`,
    transferOut: `${base}:xout`,
    transferPending: `${base}:xpend`,
    transferIn: `${base}:xin`,
  };
}

/** The keys of a sale's unallocated pool and its transfer log, under the sale's own tag. */
export function salePoolKeys(saleId: string) {
  const t = saleTag(saleId);
  return {
    pool: `${t}:pool`,
    transferOut: `${t}:xout`,
    transferPending: `${t}:xpend`,
    transferIn: `${t}:xin`,
  };
}

export function inventoryKeys(cell: string) {
  const t = cellTag(cell);
  return {
    inventory: `${t}:inv`,
    holds: `${t}:cart`,
    expiry: `${t}:cart:x`,
    adjustments: `${t}:inv:adj`,
    outbox: `${t}:outbox`,
  };
}

export function voucherKeys(voucherId: string) {
  const t = voucherTag(voucherId);
  return { voucher: `${t}:v`, users: `${t}:u`, orders: `${t}:o` };
}

export const outboxKey = (cell: string): string => `${cellTag(cell)}:outbox`;
export const rateLimitKey = (cell: string, name: string): string => `${cellTag(cell)}:rl:${name}`;
export const idempotencyKey = (cell: string, scope: string, key: string): string =>
  `${cellTag(cell)}:idk:${scope}:${key}`;

/** The identities one fraud scoring attempt is counted under. */
export interface FraudIdentity {
  readonly userId: string;
  readonly deviceId: string;
  readonly ip: string;
  readonly cardFingerprint: string;
}

/**
 * The velocity keys of one scoring attempt, in the per-attempt KEYS order of fraud-velocity (after the cell's
 * sequence key). All under the SCORING user's cell tag: a device, IP or card seen in several cells has one set of
 * counters per cell.
 */
export function fraudKeys(cell: string, id: FraudIdentity) {
  const t = `${cellTag(cell)}:fraud`;
  return {
    attempts: `${t}:u:${id.userId}:att`,
    deviceCards: `${t}:d:${id.deviceId}:cards`,
    deviceUsers: `${t}:d:${id.deviceId}:users`,
    ipUsers: `${t}:ip:${id.ip}:users`,
    cardSmall: `${t}:c:${id.cardFingerprint}:small`,
    failures: fraudFailuresKey(cell, id.userId),
  };
}
export const fraudSeqKey = (cell: string): string => `${cellTag(cell)}:fraud:seq`;
export const fraudFailuresKey = (cell: string, userId: string): string =>
  `${cellTag(cell)}:fraud:u:${userId}:fail`;
