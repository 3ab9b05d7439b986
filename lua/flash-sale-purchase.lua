#!lua
--[[ flash-sale-purchase: one batch of purchase attempts for ONE sale in ONE cell, atomically.

KEYS (all under the cell tag {c<cell>}):
  1 {c}:fs:<sale>     HASH   st/en (window ms, [st, en)), lim (units per user), ttl (reservation ms),
                             q (cell quota left), r (units reserved), s (units sold),
                             so (requests answered SOLD_OUT: unmet demand, read by the rebalancer)
  2 {c}:fs:<sale>:u   HASH   <user> -> units the user holds (reserved + sold)
                             <user>:<idemKey> -> "<first result>#<quantity>" (result as in the reply)
  3 {c}:fs:<sale>:r   HASH   <rid> -> "<state>|<user>|<qty>|<expiresAt>"  state R (reserved)
  4 {c}:fs:<sale>:x   ZSET   <rid> scored by expiresAt (live reservations only)
  5 {c}:outbox        STREAM reservation.created events
  6 {c}:seq           STRING cell-wide reservation id counter
ARGV:
  1 saleId   2 now (ms: the reservation expires at now + ttl)   3 n (1..MAX_BATCH)
  then n groups of 4: userId, quantity (1..999999), idempotencyKey, at (request time in ms, checked against the window)
Per request, in order: window (at < st -> N, at >= en -> E), idempotency key seen (-> "D" .. first result),
  per-user limit (held + qty > lim -> L), stock (q < qty -> S), else reserve everything or nothing.
Returns: array of n strings, one per request, in order:
  "R:<rid>:<expiresAt>" reserved | "S" sold out | "L" limit reached | "N" not started | "E" ended
  | "D" .. <first result of that idempotency key> (only R and L are recorded; S is not, see below)
  | "M" the key was first used with another quantity (a different request under the same key)
Error replies (nothing written: every ARGV field is checked before the first write, all writes come last):
  LUA_BAD_ARGUMENT <field>: ...    LUA_BATCH_TOO_LARGE n: ...    LUA_NOT_FOUND sale: ...
Events: XADD {c}:outbox * reservation.created "<saleId>|<rid>|<userId>|<qty>|<expiresAt>"
  (the field name is the event type; one entry, one field, per reservation).
Complexity: O(n); per request at most 1 HMGET, per reservation 1 XADD; per batch at most 7 more commands
  (HMGET + GET of the sale, one HSET each for users / reservations, one ZADD, SET of the counter, HSET of q/r).
]]
local MAX_BATCH = 48

local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local function int(v, lo, hi)
  if not v or #v > 15 or not string.find(v, '^%d+$') then return nil end
  local n = tonumber(v)
  if n < lo or n > hi then return nil end
  return n
end
local function ident(v)
  return #v > 0 and #v <= 64 and not string.find(v, '[^%w_.%-]')
end

local saleId = ARGV[1]
if not ident(saleId) then return bad('saleId', 'must be 1-64 chars of [A-Za-z0-9_.-]') end
local now = int(ARGV[2], 0, 1e14)
if not now then return bad('now', 'must be an integer ms timestamp') end
local n = int(ARGV[3], 1, 1e9)
if not n then return bad('requests', 'must hold at least one request') end
if n > MAX_BATCH then
  return redis.error_reply('LUA_BATCH_TOO_LARGE requests: ' .. n .. ' > ' .. MAX_BATCH)
end
if #ARGV ~= 3 + 4 * n then return bad('requests', 'expected ' .. (3 + 4 * n) .. ' ARGV, got ' .. #ARGV) end

local sale = redis.call('HMGET', KEYS[1], 'st', 'en', 'lim', 'ttl', 'q', 'r')
if not sale[1] then return redis.error_reply('LUA_NOT_FOUND sale: ' .. saleId .. ' is not configured in this cell') end
local st, en, lim, ttl = tonumber(sale[1]), tonumber(sale[2]), tonumber(sale[3]), tonumber(sale[4])
local q, r = tonumber(sale[5]), tonumber(sale[6])
local seq0 = tonumber(redis.call('GET', KEYS[6]) or '0')
local seq = seq0
local exp = now + ttl
local expS = tostring(exp)
local out = {}
-- Every write is collected and issued after the loop: an invalid request found mid-batch returns its error
-- before anything was written, and the users hash, the reservation hash and the expiry index get one command
-- each (a command costs ~1-2 us inside a script here, a field ~0.2 us). `held` and `recorded` are this batch's
-- view of those pending writes, so a user or key seen twice in one batch is judged on the earlier effect.
local uw, rw, xw, ev = {}, {}, {}, {}
local soldOut = 0
local held, recorded = {}, {}

for b = 3, 4 * n - 1, 4 do
  local user, qtyS, key, atS = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  if not ident(user) then
    return bad('requests[' .. (b - 3) / 4 .. '].userId', 'must be 1-64 chars of [A-Za-z0-9_.-]')
  end
  if not string.find(qtyS, '^[1-9]%d?%d?%d?%d?%d?$') then
    return bad('requests[' .. (b - 3) / 4 .. '].quantity', 'must be an integer 1..999999')
  end
  if #key == 0 or #key > 128 or string.find(key, '[^%w%p]') then
    return bad('requests[' .. (b - 3) / 4 .. '].idempotencyKey', 'must be 1-128 printable ASCII chars')
  end
  local at = int(atS, 0, 1e14)
  if not at then return bad('requests[' .. (b - 3) / 4 .. '].at', 'must be an integer ms timestamp') end
  local res
  if at < st then
    res = 'N'
  elseif at >= en then
    res = 'E'
  else
    local ik = user .. ':' .. key
    local first = recorded[ik]
    local h = held[user]
    if not first then
      local got = redis.call('HMGET', KEYS[2], user, ik)
      first = got[2]
      if not h then h = tonumber(got[1] or '0') end
    end
    if first then
      -- Recorded as "<answer>#<quantity>": the same key with another quantity is another request.
      local hash = string.find(first, '#', 1, true)
      if hash and string.sub(first, hash + 1) ~= qtyS then
        res = 'M'
      else
        res = 'D' .. (hash and string.sub(first, 1, hash - 1) or first)
      end
    else
      local qty = tonumber(qtyS)
      if h + qty > lim then
        res = 'L'
      elseif q < qty then
        res = 'S'
        soldOut = soldOut + 1
      else
        seq = seq + 1
        q = q - qty
        r = r + qty
        h = h + qty
        held[user] = h
        local sid = tostring(seq)
        res = 'R:' .. sid .. ':' .. expS
        uw[#uw + 1] = user
        uw[#uw + 1] = h
        rw[#rw + 1] = sid
        rw[#rw + 1] = 'R|' .. user .. '|' .. qtyS .. '|' .. expS
        xw[#xw + 1] = expS
        xw[#xw + 1] = sid
        ev[#ev + 1] = saleId .. '|' .. sid .. '|' .. user .. '|' .. qtyS .. '|' .. expS
      end
      -- SOLD_OUT is not recorded: it speaks of this cell's quota at this instant, and quota moves
      -- between cells; a client retrying the same key once stock arrived must be able to buy.
      if res ~= 'S' then
        recorded[ik] = res .. '#' .. qtyS
        uw[#uw + 1] = ik
        uw[#uw + 1] = recorded[ik]
      end
    end
  end
  out[#out + 1] = res
end

if #uw > 0 then redis.call('HSET', KEYS[2], unpack(uw)) end
if seq ~= seq0 then
  redis.call('HSET', KEYS[3], unpack(rw))
  redis.call('ZADD', KEYS[4], unpack(xw))
  for i = 1, #ev do redis.call('XADD', KEYS[5], '*', 'reservation.created', ev[i]) end
  redis.call('SET', KEYS[6], seq)
  redis.call('HSET', KEYS[1], 'q', q, 'r', r)
end
-- Demand the cell could not serve: the rebalancer moves quota towards cells where this grows.
if soldOut > 0 then redis.call('HINCRBY', KEYS[1], 'so', soldOut) end
return out
