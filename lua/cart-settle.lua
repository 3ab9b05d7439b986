#!lua
--[[ cart-settle: commit (order confirmed) or release (cart abandoned / payment failed) ONE cart hold.
Idempotent: settling a settled hold again changes nothing and reports its state.

KEYS (cell tag {c<cell>}; same layout as cart-reserve):
  1 {c}:inv  HASH   2 {c}:cart  HASH   3 {c}:cart:x  ZSET   4 {c}:outbox  STREAM
ARGV: 1 op ('commit' | 'release')   2 holdId   3 now (ms)
Effects on a live (R) hold, per SKU line:
  commit, now <  expiresAt: h -= qty, s += qty; state C; event cart.committed
  commit, now >= expiresAt: handled as its expiry: h -= qty, a += qty; state E; event cart.expired
  release:                  h -= qty, a += qty; state X; event cart.released
Events (field name = type): XADD {c}:outbox * cart.<committed|released|expired> "<holdId>|<new record>"
Returns one status string:
  COMMITTED | RELEASED | EXPIRED | ALREADY_COMMITTED | ALREADY_RELEASED | NOT_FOUND
  (commit of a released hold -> RELEASED; release of a committed one -> COMMITTED; nothing written)
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...
Complexity: O(lines + log N); 2 commands per line + 3.
]]
local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local op, holdId, nowS = ARGV[1], ARGV[2], ARGV[3]
if op ~= 'commit' and op ~= 'release' then return bad('op', "must be 'commit' or 'release'") end
if type(holdId) ~= 'string' or #holdId == 0 or #holdId > 64 or string.find(holdId, '[^%w_.%-]') then
  return bad('holdId', 'must be 1-64 chars of [A-Za-z0-9_.-]')
end
if type(nowS) ~= 'string' or #nowS > 15 or not string.find(nowS, '^%d+$') then
  return bad('now', 'must be an integer ms timestamp')
end
if #ARGV ~= 3 then return bad('ARGV', 'expected 3 arguments') end
local now = tonumber(nowS)

local rec = redis.call('HGET', KEYS[2], holdId)
if not rec then return 'NOT_FOUND' end
local state = string.sub(rec, 1, 1)
if state == 'C' then return op == 'commit' and 'ALREADY_COMMITTED' or 'COMMITTED' end
if state == 'X' then return op == 'release' and 'ALREADY_RELEASED' or 'RELEASED' end
if state == 'E' then return 'EXPIRED' end

local parts = {}
for p in string.gmatch(rec, '[^|]+') do parts[#parts + 1] = p end
local exp = tonumber(parts[2])
local commit = op == 'commit' and now < exp
local dest, newState, event, result = 'a:', 'X', 'cart.released', 'RELEASED'
if commit then
  dest, newState, event, result = 's:', 'C', 'cart.committed', 'COMMITTED'
elseif op == 'commit' then
  newState, event, result = 'E', 'cart.expired', 'EXPIRED'
end
for i = 3, #parts, 2 do
  local sku, qty = parts[i], tonumber(parts[i + 1])
  redis.call('HINCRBY', KEYS[1], 'h:' .. sku, -qty)
  redis.call('HINCRBY', KEYS[1], dest .. sku, qty)
end
parts[1] = newState
local newRec = table.concat(parts, '|')
redis.call('HSET', KEYS[2], holdId, newRec)
redis.call('ZREM', KEYS[3], holdId)
redis.call('XADD', KEYS[4], '*', event, holdId .. '|' .. newRec)
return result
