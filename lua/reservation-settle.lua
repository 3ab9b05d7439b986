#!lua
--[[ reservation-settle: commit (order confirmed) or release (cancelled / payment failed) ONE flash-sale
reservation. Idempotent: settling a settled reservation again changes nothing and reports its state.

KEYS (cell tag {c<cell>}; same layout as flash-sale-purchase):
  1 {c}:fs:<sale>  HASH (q, r, s)   2 {c}:fs:<sale>:u  HASH   3 {c}:fs:<sale>:r  HASH
  4 {c}:fs:<sale>:x  ZSET           5 {c}:outbox  STREAM
ARGV: 1 op ('commit' | 'release')   2 saleId   3 reservationId   4 now (ms)
Effects on a live (R) reservation:
  commit, now <  expiresAt: r -= qty, s += qty, state C, event reservation.committed
  commit, now >= expiresAt: handled as its expiry: q += qty, r -= qty, user count -= qty, state E,
                            event reservation.expired (a late payment never takes expired stock)
  release:                  q += qty, r -= qty, user count -= qty, state X, event reservation.released
Events (field name = type): XADD {c}:outbox * reservation.<committed|released|expired> "<saleId>|<rid>|<userId>|<qty>"
Returns one status string:
  COMMITTED | RELEASED | EXPIRED | ALREADY_COMMITTED | ALREADY_RELEASED | NOT_FOUND
  (commit of a released reservation -> RELEASED; release of a committed one -> COMMITTED; nothing written)
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...
Complexity: O(log N) for the expiry index; at most 7 commands.
]]
local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local op, saleId, rid = ARGV[1], ARGV[2], ARGV[3]
if op ~= 'commit' and op ~= 'release' then return bad('op', "must be 'commit' or 'release'") end
if type(saleId) ~= 'string' or #saleId == 0 or #saleId > 64 or string.find(saleId, '[^%w_.%-]') then
  return bad('saleId', 'must be 1-64 chars of [A-Za-z0-9_.-]')
end
if type(rid) ~= 'string' or #rid == 0 or #rid > 15 or not string.find(rid, '^%d+$') then
  return bad('reservationId', 'must be a decimal reservation id')
end
local nowS = ARGV[4]
if type(nowS) ~= 'string' or #nowS > 15 or not string.find(nowS, '^%d+$') then
  return bad('now', 'must be an integer ms timestamp')
end
if #ARGV ~= 4 then return bad('ARGV', 'expected 4 arguments') end
local now = tonumber(nowS)

local rec = redis.call('HGET', KEYS[3], rid)
if not rec then return 'NOT_FOUND' end
local state, user, qty, exp = string.match(rec, '^(%a)|([^|]+)|(%d+)|(%d+)$')
qty, exp = tonumber(qty), tonumber(exp)
if state == 'C' then return op == 'commit' and 'ALREADY_COMMITTED' or 'COMMITTED' end
if state == 'X' then return op == 'release' and 'ALREADY_RELEASED' or 'RELEASED' end
if state == 'E' then return 'EXPIRED' end

local tail = '|' .. user .. '|' .. qty .. '|' .. exp
local data = saleId .. '|' .. rid .. '|' .. user .. '|' .. qty
redis.call('ZREM', KEYS[4], rid)
if op == 'commit' and now < exp then
  redis.call('HINCRBY', KEYS[1], 'r', -qty)
  redis.call('HINCRBY', KEYS[1], 's', qty)
  redis.call('HSET', KEYS[3], rid, 'C' .. tail)
  redis.call('XADD', KEYS[5], '*', 'reservation.committed', data)
  return 'COMMITTED'
end
redis.call('HINCRBY', KEYS[1], 'q', qty)
redis.call('HINCRBY', KEYS[1], 'r', -qty)
if redis.call('HINCRBY', KEYS[2], user, -qty) <= 0 then redis.call('HDEL', KEYS[2], user) end
if op == 'commit' then
  redis.call('HSET', KEYS[3], rid, 'E' .. tail)
  redis.call('XADD', KEYS[5], '*', 'reservation.expired', data)
  return 'EXPIRED'
end
redis.call('HSET', KEYS[3], rid, 'X' .. tail)
redis.call('XADD', KEYS[5], '*', 'reservation.released', data)
return 'RELEASED'
