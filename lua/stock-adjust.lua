#!lua
--[[ stock-adjust: restock or correct the available count of one SKU of ordinary stock, with an audit event.
Idempotent by adjustId: a retried adjustment applies once and answers with its first result.

KEYS (cell tag {c<cell>}):
  1 {c}:inv       HASH   a:<sku> available (see cart-reserve)
  2 {c}:inv:adj   HASH   <adjustId> -> "<sku>|<mode>|<value>|<before>|<after>"
  3 {c}:outbox    STREAM audit event: stock.adjusted "<adjustId>|<sku>|<before>|<after>|<reason>"
ARGV: 1 adjustId   2 sku   3 mode ('delta' | 'set')   4 value (delta: signed integer; set: integer >= 0)
      5 reason (1-200 printable chars, spaces allowed)   6 now (ms)
Returns:
  { 'ADJUSTED', before, after }
  { 'DUPLICATE', before, after }   adjustId seen with the same sku/mode/value: nothing written
  { 'INSUFFICIENT', before }       a negative delta larger than the available count: nothing written
Error replies (nothing written):
  LUA_BAD_ARGUMENT <field>: ...   LUA_CONFLICT adjustId: reused with a different sku, mode or value
Complexity: O(1); 4 commands.
]]
local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local function ident(v)
  return type(v) == 'string' and #v > 0 and #v <= 64 and not string.find(v, '[^%w_.%-]')
end
local adjustId, sku, mode, valueS, reason, nowS = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if not ident(adjustId) then return bad('adjustId', 'must be 1-64 chars of [A-Za-z0-9_.-]') end
if not ident(sku) then return bad('sku', 'must be 1-64 chars of [A-Za-z0-9_.-]') end
if mode ~= 'delta' and mode ~= 'set' then return bad('mode', "must be 'delta' or 'set'") end
if type(valueS) ~= 'string' or #valueS > 11 or not string.find(valueS, '^%-?%d+$') then
  return bad('value', 'must be an integer within +-1e9')
end
local value = tonumber(valueS)
if value > 1e9 or value < -1e9 or (mode == 'set' and value < 0) or (mode == 'delta' and value == 0) then
  return bad('value', 'delta must be non-zero within +-1e9; set must be 0..1e9')
end
if type(reason) ~= 'string' or #reason == 0 or #reason > 200 or string.find(reason, '[^%w%p ]') then
  return bad('reason', 'must be 1-200 printable ASCII chars')
end
if type(nowS) ~= 'string' or #nowS > 15 or not string.find(nowS, '^%d+$') then
  return bad('now', 'must be an integer ms timestamp')
end
if #ARGV ~= 6 then return bad('ARGV', 'expected 6 arguments') end

local prev = redis.call('HGET', KEYS[2], adjustId)
if prev then
  local psku, pmode, pvalue, before, after = string.match(prev, '^([^|]+)|(%a+)|(%-?%d+)|(%d+)|(%d+)$')
  if psku ~= sku or pmode ~= mode or tonumber(pvalue) ~= value then
    return redis.error_reply('LUA_CONFLICT adjustId: ' .. adjustId .. ' was used for a different adjustment')
  end
  return { 'DUPLICATE', tonumber(before), tonumber(after) }
end
local before = tonumber(redis.call('HGET', KEYS[1], 'a:' .. sku) or '0')
local after = value
if mode == 'delta' then after = before + value end
if after < 0 then return { 'INSUFFICIENT', before } end
if after > 1e12 then return bad('value', 'the available count would exceed 1e12') end
redis.call('HSET', KEYS[1], 'a:' .. sku, after)
redis.call('HSET', KEYS[2], adjustId, sku .. '|' .. mode .. '|' .. value .. '|' .. before .. '|' .. after)
redis.call('XADD', KEYS[3], '*', 'stock.adjusted', adjustId .. '|' .. sku .. '|' .. before .. '|' .. after .. '|' .. reason)
return { 'ADJUSTED', before, after }
