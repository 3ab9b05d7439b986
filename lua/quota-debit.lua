#!lua
--[[ quota-debit: step 1 of a quota transfer, run under the SOURCE's tag. Takes `amount` units from the
source counter and writes a `pending` transfer-log entry, in one atomic step. Idempotent by transferId.

The source is either the sale's unallocated pool ({fs:<sale>}:pool field `pool`) or a cell's quota
({c<cell>}:fs:<sale> field `q`). The destination is named in the log entry so recovery can finish
(credit) or undo (refund) the transfer after a crash between steps.
KEYS (one tag, the source's):
  1 source HASH     {fs:<sale>}:pool    | {c<cell>}:fs:<sale>
  2 log HASH        {fs:<sale>}:xout    | {c<cell>}:fs:<sale>:xout   <transferId> -> "<state>|<amount>|<dest>|<at>"
                    state p (pending), d (done: credited at the destination), u (undone: refunded)
  3 pending ZSET    {fs:<sale>}:xpend   | {c<cell>}:fs:<sale>:xpend  <transferId> scored by <at>
ARGV: 1 field ('pool' | 'q')   2 transferId   3 amount (1..1e9)   4 dest ('pool' | 'c:<cell>')   5 now (ms)
Returns:
  { 'DEBITED', 'p' }          debited now, log entry pending
  { 'EXISTS', state }         transferId seen with the same amount and dest: nothing written
  { 'INSUFFICIENT', avail }   source holds fewer than amount units: nothing written
Error replies (nothing written):
  LUA_BAD_ARGUMENT <field>: ...   LUA_NOT_FOUND source: ...
  LUA_CONFLICT transferId: reused with a different amount or destination
Complexity: O(log N); 4 commands.
]]
local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local field, id, amountS, dest, nowS = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if field ~= 'pool' and field ~= 'q' then return bad('field', "must be 'pool' or 'q'") end
if type(id) ~= 'string' or #id == 0 or #id > 64 or string.find(id, '[^%w_.%-]') then
  return bad('transferId', 'must be 1-64 chars of [A-Za-z0-9_.-]')
end
if type(amountS) ~= 'string' or #amountS > 10 or not string.find(amountS, '^%d+$') then
  return bad('amount', 'must be an integer 1..1e9')
end
local amount = tonumber(amountS)
if amount < 1 or amount > 1e9 then return bad('amount', 'must be an integer 1..1e9') end
if type(dest) ~= 'string' or not (dest == 'pool' or string.find(dest, '^c:[%w_%-]+$')) or #dest > 40 then
  return bad('dest', "must be 'pool' or 'c:<cell>'")
end
if type(nowS) ~= 'string' or #nowS > 15 or not string.find(nowS, '^%d+$') then
  return bad('now', 'must be an integer ms timestamp')
end
if #ARGV ~= 5 then return bad('ARGV', 'expected 5 arguments') end

local prev = redis.call('HGET', KEYS[2], id)
if prev then
  local state, pamount, pdest = string.match(prev, '^(%a)|(%d+)|([^|]+)|')
  if tonumber(pamount) ~= amount or pdest ~= dest then
    return redis.error_reply('LUA_CONFLICT transferId: ' .. id .. ' was used for a different transfer')
  end
  return { 'EXISTS', state }
end
local avail = redis.call('HGET', KEYS[1], field)
if not avail then return redis.error_reply('LUA_NOT_FOUND source: the transfer source does not exist') end
avail = tonumber(avail)
if avail < amount then return { 'INSUFFICIENT', avail } end
redis.call('HINCRBY', KEYS[1], field, -amount)
redis.call('HSET', KEYS[2], id, 'p|' .. amount .. '|' .. dest .. '|' .. nowS)
redis.call('ZADD', KEYS[3], nowS, id)
return { 'DEBITED', 'p' }
