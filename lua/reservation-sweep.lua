#!lua
--[[ reservation-sweep: release flash-sale reservations whose expiry has passed, at most `limit` per call.

KEYS (cell tag {c<cell>}; same layout as flash-sale-purchase):
  1 {c}:fs:<sale>  HASH (q, r)   2 {c}:fs:<sale>:u  HASH   3 {c}:fs:<sale>:r  HASH
  4 {c}:fs:<sale>:x  ZSET        5 {c}:outbox  STREAM
ARGV: 1 saleId   2 now (ms; expired means expiresAt <= now)   3 limit (1..1000)
Effects per expired live reservation: q += qty, r -= qty, user count -= qty, state E,
  event reservation.expired "<saleId>|<rid>|<userId>|<qty>"; the id leaves the expiry index.
Returns: { expired (count released by this call), more (1 if expired entries remain, else 0) }
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...
Complexity: O(log N + limit); about 5 commands per expired reservation, bounded by limit.
]]
local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local function int(v, lo, hi)
  if type(v) ~= 'string' or #v > 15 or not string.find(v, '^%d+$') then return nil end
  local n = tonumber(v)
  if n < lo or n > hi then return nil end
  return n
end
local saleId = ARGV[1]
if type(saleId) ~= 'string' or #saleId == 0 or #saleId > 64 or string.find(saleId, '[^%w_.%-]') then
  return bad('saleId', 'must be 1-64 chars of [A-Za-z0-9_.-]')
end
local now = int(ARGV[2], 0, 1e14)
if not now then return bad('now', 'must be an integer ms timestamp') end
local limit = int(ARGV[3], 1, 1000)
if not limit then return bad('limit', 'must be an integer 1..1000') end

local ids = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)
local units, expired = 0, 0
for i = 1, #ids do
  local rid = ids[i]
  local rec = redis.call('HGET', KEYS[3], rid)
  local state, user, qty, exp = string.match(rec or '', '^(%a)|([^|]+)|(%d+)|(%d+)$')
  if state == 'R' then
    qty = tonumber(qty)
    units = units + qty
    expired = expired + 1
    if redis.call('HINCRBY', KEYS[2], user, -qty) <= 0 then redis.call('HDEL', KEYS[2], user) end
    redis.call('HSET', KEYS[3], rid, 'E|' .. user .. '|' .. qty .. '|' .. exp)
    redis.call('XADD', KEYS[5], '*', 'reservation.expired', saleId .. '|' .. rid .. '|' .. user .. '|' .. qty)
  end
end
if #ids > 0 then
  redis.call('ZREM', KEYS[4], unpack(ids))
end
if units > 0 then
  redis.call('HINCRBY', KEYS[1], 'q', units)
  redis.call('HINCRBY', KEYS[1], 'r', -units)
end
local more = 0
if #ids == limit and redis.call('ZCOUNT', KEYS[4], '-inf', now) > 0 then more = 1 end
return { expired, more }
