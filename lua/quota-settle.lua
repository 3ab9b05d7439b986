#!lua
--[[ quota-settle: step 3 of a quota transfer, run under the SOURCE's tag. Closes a pending log entry:
'done' after the destination credited it, or 'undo' after the destination aborted it (refunds the source).
Idempotent: a closed entry is reported as it is.

KEYS (the source's tag; see quota-debit): 1 source HASH   2 log HASH   3 pending ZSET
ARGV: 1 field ('pool' | 'q')   2 transferId   3 outcome ('done' | 'undo')
Returns one status string: DONE | UNDONE (the entry's final state; a caller asking 'undo' for an entry that is
  already DONE gets DONE, and nothing is written)
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...   LUA_NOT_FOUND transferId: ...
Complexity: O(log N); at most 3 commands.
]]
local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local field, id, outcome = ARGV[1], ARGV[2], ARGV[3]
if field ~= 'pool' and field ~= 'q' then return bad('field', "must be 'pool' or 'q'") end
if type(id) ~= 'string' or #id == 0 or #id > 64 or string.find(id, '[^%w_.%-]') then
  return bad('transferId', 'must be 1-64 chars of [A-Za-z0-9_.-]')
end
if outcome ~= 'done' and outcome ~= 'undo' then return bad('outcome', "must be 'done' or 'undo'") end
if #ARGV ~= 3 then return bad('ARGV', 'expected 3 arguments') end

local prev = redis.call('HGET', KEYS[2], id)
if not prev then return redis.error_reply('LUA_NOT_FOUND transferId: ' .. id .. ' is not in the log') end
local state = string.sub(prev, 1, 1)
if state == 'd' then return 'DONE' end
if state == 'u' then return 'UNDONE' end
local amount = tonumber(string.match(prev, '^%a|(%d+)|'))
if outcome == 'done' then
  redis.call('HSET', KEYS[2], id, 'd' .. string.sub(prev, 2))
  redis.call('ZREM', KEYS[3], id)
  return 'DONE'
end
redis.call('HINCRBY', KEYS[1], field, amount)
redis.call('HSET', KEYS[2], id, 'u' .. string.sub(prev, 2))
redis.call('ZREM', KEYS[3], id)
return 'UNDONE'
