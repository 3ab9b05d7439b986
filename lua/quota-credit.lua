#!lua
--[[ quota-credit: step 2 of a quota transfer, run under the DESTINATION's tag. Adds `amount` units to the
destination counter once per transferId (a retried credit applies once), unless the transfer was aborted.

KEYS (one tag, the destination's):
  1 dest HASH      {fs:<sale>}:pool  | {c<cell>}:fs:<sale>       (field pool | q)
  2 inbound HASH   {fs:<sale>}:xin   | {c<cell>}:fs:<sale>:xin   <transferId> -> amount credited | 'x' (aborted)
ARGV: 1 field ('pool' | 'q')   2 transferId   3 amount (1..1e9)
Returns one status string:
  CREDITED            applied now
  ALREADY_CREDITED    applied before (same amount): nothing written
  ABORTED             the transfer was aborted at this destination (quota-abort): nothing written
  NOT_CONFIGURED      the destination hash does not exist (sale not created / not configured in the cell):
                      nothing written; recovery undoes the transfer
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...   LUA_CONFLICT transferId: different amount
Complexity: O(1); at most 4 commands.
]]
local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local field, id, amountS = ARGV[1], ARGV[2], ARGV[3]
if field ~= 'pool' and field ~= 'q' then return bad('field', "must be 'pool' or 'q'") end
if type(id) ~= 'string' or #id == 0 or #id > 64 or string.find(id, '[^%w_.%-]') then
  return bad('transferId', 'must be 1-64 chars of [A-Za-z0-9_.-]')
end
if type(amountS) ~= 'string' or #amountS > 10 or not string.find(amountS, '^%d+$') then
  return bad('amount', 'must be an integer 1..1e9')
end
local amount = tonumber(amountS)
if amount < 1 or amount > 1e9 then return bad('amount', 'must be an integer 1..1e9') end
if #ARGV ~= 3 then return bad('ARGV', 'expected 3 arguments') end

local prev = redis.call('HGET', KEYS[2], id)
if prev == 'x' then return 'ABORTED' end
if prev then
  if tonumber(prev) ~= amount then
    return redis.error_reply('LUA_CONFLICT transferId: ' .. id .. ' was credited with a different amount')
  end
  return 'ALREADY_CREDITED'
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 'NOT_CONFIGURED' end
redis.call('HINCRBY', KEYS[1], field, amount)
redis.call('HSET', KEYS[2], id, amount)
return 'CREDITED'
