#!lua
--[[ quota-abort: recovery step, run under the DESTINATION's tag. Makes sure a transfer will never be
credited here (writes the tombstone 'x'), unless it already was. Run it before refunding the source, so a
late step-2 credit racing the recovery cannot apply the same units twice.

KEYS: 1 inbound HASH  {fs:<sale>}:xin | {c<cell>}:fs:<sale>:xin  (see quota-credit)
ARGV: 1 transferId
Returns one status string:
  ABORTED    the destination will refuse the credit (tombstone written now or before): refund the source
  CREDITED   the destination already applied the credit: finish the transfer instead (nothing written)
Error replies (nothing written): LUA_BAD_ARGUMENT transferId: ...
Complexity: O(1); at most 2 commands.
]]
local id = ARGV[1]
if type(id) ~= 'string' or #id == 0 or #id > 64 or string.find(id, '[^%w_.%-]') or #ARGV ~= 1 then
  return redis.error_reply('LUA_BAD_ARGUMENT transferId: must be 1-64 chars of [A-Za-z0-9_.-]')
end
local prev = redis.call('HGET', KEYS[1], id)
if prev == 'x' then return 'ABORTED' end
if prev then return 'CREDITED' end
redis.call('HSET', KEYS[1], id, 'x')
return 'ABORTED'
