#!lua
--[[ voucher-claim: claim one use of a voucher for one order. Idempotent per order: the order's first
claim is the answer to every retry.

KEYS (the voucher's own tag {vc:<voucherId>}, since its usage limit is global):
  1 {vc:<id>}:v   HASH  lim (global uses), used, pu (uses per user), st/en (validity window ms, [st, en))
  2 {vc:<id>}:u   HASH  <userId> -> uses claimed by the user (live claims only)
  3 {vc:<id>}:o   HASH  <orderId> -> "<state>|<userId>"  state C (claimed) or X (released)
ARGV: 1 orderId   2 userId   3 now (ms)
Checks, in order: order seen (-> ALREADY_CLAIMED / ORDER_RELEASED / ORDER_CONFLICT when another user
  claimed it), window (NOT_STARTED / ENDED), global limit (EXHAUSTED), per-user limit (LIMIT_REACHED).
Returns one status string: CLAIMED | ALREADY_CLAIMED | ORDER_RELEASED | ORDER_CONFLICT | NOT_STARTED | ENDED
  | EXHAUSTED | LIMIT_REACHED   (everything but CLAIMED writes nothing)
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...   LUA_NOT_FOUND voucher: ...
Complexity: O(1); at most 6 commands.
]]
local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local function ident(v)
  return type(v) == 'string' and #v > 0 and #v <= 64 and not string.find(v, '[^%w_.%-]')
end
local orderId, userId, nowS = ARGV[1], ARGV[2], ARGV[3]
if not ident(orderId) then return bad('orderId', 'must be 1-64 chars of [A-Za-z0-9_.-]') end
if not ident(userId) then return bad('userId', 'must be 1-64 chars of [A-Za-z0-9_.-]') end
if type(nowS) ~= 'string' or #nowS > 15 or not string.find(nowS, '^%d+$') then
  return bad('now', 'must be an integer ms timestamp')
end
if #ARGV ~= 3 then return bad('ARGV', 'expected 3 arguments') end
local now = tonumber(nowS)

local cfg = redis.call('HMGET', KEYS[1], 'lim', 'used', 'pu', 'st', 'en')
if not cfg[1] then return redis.error_reply('LUA_NOT_FOUND voucher: not defined') end
local prev = redis.call('HGET', KEYS[3], orderId)
if prev then
  if string.sub(prev, 3) ~= userId then return 'ORDER_CONFLICT' end
  return string.sub(prev, 1, 1) == 'C' and 'ALREADY_CLAIMED' or 'ORDER_RELEASED'
end
if now < tonumber(cfg[4]) then return 'NOT_STARTED' end
if now >= tonumber(cfg[5]) then return 'ENDED' end
if tonumber(cfg[2] or '0') >= tonumber(cfg[1]) then return 'EXHAUSTED' end
if tonumber(redis.call('HGET', KEYS[2], userId) or '0') >= tonumber(cfg[3]) then return 'LIMIT_REACHED' end
redis.call('HINCRBY', KEYS[1], 'used', 1)
redis.call('HINCRBY', KEYS[2], userId, 1)
redis.call('HSET', KEYS[3], orderId, 'C|' .. userId)
return 'CLAIMED'
