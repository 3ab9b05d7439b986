#!lua
--[[ cart-reserve: hold several SKUs of ordinary (non-flash) stock for one cart, all or nothing, with expiry.

KEYS (cell tag {c<cell>}):
  1 {c}:inv      HASH   a:<sku> available, h:<sku> held by live cart holds, s:<sku> sold (committed)
  2 {c}:cart     HASH   <holdId> -> "<state>|<expiresAt>|<sku>|<qty>|<sku>|<qty>..."  state R/C/X/E
  3 {c}:cart:x   ZSET   <holdId> scored by expiresAt (live holds only)
  4 {c}:outbox   STREAM cart.reserved "<holdId>|<record>" (field name = event type)
ARGV: 1 holdId (the idempotency key of the hold)   2 now (ms)   3 ttl (ms, 1..86400000)   4 n (1..100)
      then n pairs: sku, quantity (>= 1); a SKU appears at most once.
Returns:
  { 'RESERVED', expiresAt }
  { 'OUT_OF_STOCK', sku, ... }  every SKU whose available count is below the quantity; nothing written
                                 (a refused hold is not remembered, so a retry after a restock can succeed)
  { 'DUPLICATE', record }       holdId already exists: its stored record (see KEYS[2]); nothing written
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...
Complexity: O(n + log N); 2n + 4 commands.
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
local function ident(v)
  return type(v) == 'string' and #v > 0 and #v <= 64 and not string.find(v, '[^%w_.%-]')
end
local holdId = ARGV[1]
if not ident(holdId) then return bad('holdId', 'must be 1-64 chars of [A-Za-z0-9_.-]') end
local now = int(ARGV[2], 0, 1e14)
if not now then return bad('now', 'must be an integer ms timestamp') end
local ttl = int(ARGV[3], 1, 86400000)
if not ttl then return bad('ttlMs', 'must be an integer 1..86400000') end
local n = int(ARGV[4], 1, 100)
if not n then return bad('items', 'must hold 1..100 items') end
if #ARGV ~= 4 + 2 * n then return bad('items', 'expected ' .. (4 + 2 * n) .. ' ARGV, got ' .. #ARGV) end
local seen, fields = {}, {}
for i = 0, n - 1 do
  local sku = ARGV[5 + 2 * i]
  if not ident(sku) then return bad('items[' .. i .. '].sku', 'must be 1-64 chars of [A-Za-z0-9_.-]') end
  if seen[sku] then return bad('items[' .. i .. '].sku', 'appears twice') end
  seen[sku] = true
  if not int(ARGV[6 + 2 * i], 1, 1e6) then return bad('items[' .. i .. '].quantity', 'must be an integer 1..1000000') end
  fields[i + 1] = 'a:' .. sku
end

local existing = redis.call('HGET', KEYS[2], holdId)
if existing then return { 'DUPLICATE', existing } end
local avail = redis.call('HMGET', KEYS[1], unpack(fields))
local short = { 'OUT_OF_STOCK' }
for i = 0, n - 1 do
  if tonumber(avail[i + 1] or '0') < tonumber(ARGV[6 + 2 * i]) then short[#short + 1] = ARGV[5 + 2 * i] end
end
if #short > 1 then return short end

local exp = now + ttl
local parts = { 'R', exp }
for i = 0, n - 1 do
  local sku, qty = ARGV[5 + 2 * i], tonumber(ARGV[6 + 2 * i])
  redis.call('HINCRBY', KEYS[1], 'a:' .. sku, -qty)
  redis.call('HINCRBY', KEYS[1], 'h:' .. sku, qty)
  parts[#parts + 1] = sku
  parts[#parts + 1] = qty
end
local rec = table.concat(parts, '|')
redis.call('HSET', KEYS[2], holdId, rec)
redis.call('ZADD', KEYS[3], exp, holdId)
redis.call('XADD', KEYS[4], '*', 'cart.reserved', holdId .. '|' .. rec)
return { 'RESERVED', exp }
