#!lua
--[[ cart-sweep: release cart holds whose expiry has passed, at most `limit` per call.

KEYS (cell tag {c<cell>}; same layout as cart-reserve):
  1 {c}:inv  HASH   2 {c}:cart  HASH   3 {c}:cart:x  ZSET   4 {c}:outbox  STREAM
ARGV: 1 now (ms; expired means expiresAt <= now)   2 limit (1..1000)
Effects per expired live hold: per line h -= qty, a += qty; state E; event cart.expired; leaves the index.
Returns: { expired (holds released by this call), more (1 if expired entries remain, else 0) }
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...
Complexity: O(log N + limit * lines).
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
local now = int(ARGV[1], 0, 1e14)
if not now then return bad('now', 'must be an integer ms timestamp') end
local limit = int(ARGV[2], 1, 1000)
if not limit then return bad('limit', 'must be an integer 1..1000') end

local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
local expired = 0
for i = 1, #ids do
  local holdId = ids[i]
  local rec = redis.call('HGET', KEYS[2], holdId)
  if rec and string.sub(rec, 1, 1) == 'R' then
    local parts = {}
    for p in string.gmatch(rec, '[^|]+') do parts[#parts + 1] = p end
    for j = 3, #parts, 2 do
      local sku, qty = parts[j], tonumber(parts[j + 1])
      redis.call('HINCRBY', KEYS[1], 'h:' .. sku, -qty)
      redis.call('HINCRBY', KEYS[1], 'a:' .. sku, qty)
    end
    parts[1] = 'E'
    local newRec = table.concat(parts, '|')
    redis.call('HSET', KEYS[2], holdId, newRec)
    redis.call('XADD', KEYS[4], '*', 'cart.expired', holdId .. '|' .. newRec)
    expired = expired + 1
  end
end
if #ids > 0 then redis.call('ZREM', KEYS[3], unpack(ids)) end
local more = 0
if #ids == limit and redis.call('ZCOUNT', KEYS[3], '-inf', now) > 0 then more = 1 end
return { expired, more }
