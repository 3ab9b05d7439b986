#!lua
--[[ voucher-unclaim: compensation of voucher-claim: give the order's use back. Idempotent.

KEYS: 1 {vc:<id>}:v  HASH   2 {vc:<id>}:u  HASH   3 {vc:<id>}:o  HASH   (see voucher-claim)
ARGV: 1 orderId
Effects on a claimed order: used -= 1, the user's count -= 1, state X (a later claim for this order
  answers ORDER_RELEASED, so a delayed retry of the original claim cannot resurrect it).
Returns one status string: RELEASED | ALREADY_RELEASED | NOT_FOUND (the last two write nothing)
Error replies (nothing written): LUA_BAD_ARGUMENT orderId: ...
Complexity: O(1); at most 5 commands.
]]
local orderId = ARGV[1]
if type(orderId) ~= 'string' or #orderId == 0 or #orderId > 64 or string.find(orderId, '[^%w_.%-]') or #ARGV ~= 1 then
  return redis.error_reply('LUA_BAD_ARGUMENT orderId: must be 1-64 chars of [A-Za-z0-9_.-]')
end
local prev = redis.call('HGET', KEYS[3], orderId)
if not prev then return 'NOT_FOUND' end
if string.sub(prev, 1, 1) == 'X' then return 'ALREADY_RELEASED' end
local userId = string.sub(prev, 3)
redis.call('HINCRBY', KEYS[1], 'used', -1)
if redis.call('HINCRBY', KEYS[2], userId, -1) <= 0 then redis.call('HDEL', KEYS[2], userId) end
redis.call('HSET', KEYS[3], orderId, 'X|' .. userId)
return 'RELEASED'
