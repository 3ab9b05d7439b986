#!lua
--[[ flash-sale-purchase: one batch of purchase attempts for ONE sale in ONE cell, atomically.
The TypeScript side of this contract (KEYS, ARGV, reply decoding, record formats) is flash-sale-purchase.ts.

KEYS (all under the cell tag {c<cell>}):
  1 {c}:fs:<sale>     HASH   st/en (window ms, [st, en)), lim (units per user), ttl (reservation ms),
                             q (cell quota left), r (units reserved), s (units sold),
                             so (requests answered SOLD_OUT: unmet demand, read by the rebalancer)
  2 {c}:fs:<sale>:u   HASH   <user> -> units the user holds (reserved + sold)
                             <user>:<idemKey> -> "<first answer>#<quantity>", answer "R:<rid>:<expiresAt>" or "L"
  3 {c}:fs:<sale>:r   HASH   <rid> -> "<state>|<user>|<qty>|<expiresAt>"  state R (reserved)
  4 {c}:fs:<sale>:x   ZSET   <rid> scored by expiresAt (live reservations only)
  5 {c}:outbox        STREAM one reservations.created entry per batch that reserved
  6 {c}:seq           STRING cell-wide reservation id counter
ARGV:
  1 saleId   2 now (ms: the reservation expires at now + ttl)   3 n (1..MAX_BATCH)
  then n groups of 4: userId, quantity (1..999999), idempotencyKey, at (request time in ms, checked against the window)
Per request, in order: window (at < st -> N, at >= en -> E), idempotency key seen (-> "D" .. first answer),
  per-user limit (held + qty > lim -> L), stock (q < qty -> S), else reserve everything or nothing.
Returns: array of 1 + n strings: the batch's expiresAt (now + ttl), then one per request, in order:
  "R<rid>" reserved (expiring at the batch's expiresAt) | "S" sold out | "L" limit reached | "N" not started
  | "E" ended | "D" .. <first answer of that idempotency key> ("R:<rid>:<expiresAt>" or "L"; S is not recorded)
  | "M" the key was first used with another quantity (a different request under the same key)
Error replies (nothing written: every ARGV field is checked before the first write, all writes come last):
  LUA_BAD_ARGUMENT <field>: ...    LUA_BATCH_TOO_LARGE n: ...    LUA_NOT_FOUND sale: ...
Events: XADD {c}:outbox * reservations.created "<saleId>|<expiresAt>|<rid>|<userId>|<qty>|<rid>|<userId>|<qty>..."
  (one entry, one field, per batch that reserved: every reservation of the batch in order; the outbox relay
  publishes one reservation.created event per reservation, services/events/outbox-records.ts).
Complexity: O(n); per batch 2 HMGETs (the sale; every user count and idempotency record the batch needs), a GET,
  and at most 7 writes (users, reservations, expiry index, counter, q/r, so, one XADD).
]]
local MAX_BATCH = 48

local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local function int(v, lo, hi)
  if #v > 15 or not string.find(v, '^%d+$') then return nil end
  local n = tonumber(v)
  if n < lo or n > hi then return nil end
  return n
end
local function ident(v)
  return #v <= 64 and string.find(v, '^[%w_.%-]+$') ~= nil
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

-- Pass 1: check every request (a user checked once per batch) and name every field of KEYS[2] the batch reads,
-- so one HMGET serves the whole batch.
local fields, slot = {}, {}
local checked = {}
for b = 4, 4 * n, 4 do
  local user, qtyS, key = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local i = (b - 4) / 4
  if not checked[user] then
    if not ident(user) then return bad('requests[' .. i .. '].userId', 'must be 1-64 chars of [A-Za-z0-9_.-]') end
    checked[user] = true
  end
  if not string.find(qtyS, '^[1-9]%d?%d?%d?%d?%d?$') then
    return bad('requests[' .. i .. '].quantity', 'must be an integer 1..999999')
  end
  if #key > 128 or not string.find(key, '^[%w%p]+$') then
    return bad('requests[' .. i .. '].idempotencyKey', 'must be 1-128 printable ASCII chars')
  end
  local at = int(ARGV[b + 3], 0, 1e14)
  if not at then return bad('requests[' .. i .. '].at', 'must be an integer ms timestamp') end
  if at >= st and at < en then
    local ik = user .. ':' .. key
    if not slot[user] then fields[#fields + 1] = user; slot[user] = #fields end
    if not slot[ik] then fields[#fields + 1] = ik; slot[ik] = #fields end
  end
end
local stored = #fields > 0 and redis.call('HMGET', KEYS[2], unpack(fields)) or {}

-- Pass 2: decide in order. `held` and `recorded` are this batch's view of its pending writes, so a user or key
-- seen twice in one batch is judged on the earlier effect. Every write is collected and issued after the loop:
-- the users hash, the reservation hash and the expiry index get one command each.
local seq0 = tonumber(redis.call('GET', KEYS[6]) or '0')
local seq = seq0
local exp = now + ttl
local expS = tostring(exp)
local out = { expS }
local uw, rw, xw = {}, {}, {}
-- The batch's outbox entry: sale, expiry, then rid|user|qty per reservation.
local ev = { saleId, expS }
local soldOut = 0
local held, recorded = {}, {}

for b = 4, 4 * n, 4 do
  local user, qtyS, key = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local at = tonumber(ARGV[b + 3])
  local res
  if at < st then
    res = 'N'
  elseif at >= en then
    res = 'E'
  else
    local ik = user .. ':' .. key
    local first = recorded[ik]
    if first == nil then first = stored[slot[ik]] end
    if first then
      -- Recorded as "<answer>#<quantity>": the same key with another quantity is another request.
      local hash = string.find(first, '#', 1, true)
      if hash and string.sub(first, hash + 1) ~= qtyS then
        res = 'M'
      else
        res = 'D' .. (hash and string.sub(first, 1, hash - 1) or first)
      end
    else
      local h = held[user] or tonumber(stored[slot[user]] or '0')
      local qty = tonumber(qtyS)
      local answer
      if h + qty > lim then
        res = 'L'
        answer = 'L'
      elseif q < qty then
        res = 'S'
        soldOut = soldOut + 1
      else
        seq = seq + 1
        q = q - qty
        r = r + qty
        held[user] = h + qty
        local sid = tostring(seq)
        res = 'R' .. sid
        answer = 'R:' .. sid .. ':' .. expS
        uw[#uw + 1] = user
        uw[#uw + 1] = h + qty
        rw[#rw + 1] = sid
        rw[#rw + 1] = 'R|' .. user .. '|' .. qtyS .. '|' .. expS
        xw[#xw + 1] = expS
        xw[#xw + 1] = sid
        ev[#ev + 1] = sid
        ev[#ev + 1] = user
        ev[#ev + 1] = qtyS
      end
      -- SOLD_OUT is not recorded: it speaks of this cell's quota at this instant, and quota moves
      -- between cells; a client retrying the same key once stock arrived must be able to buy.
      if answer then
        recorded[ik] = answer .. '#' .. qtyS
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
  redis.call('SET', KEYS[6], seq)
  redis.call('HSET', KEYS[1], 'q', q, 'r', r)
  redis.call('XADD', KEYS[5], '*', 'reservations.created', table.concat(ev, '|'))
end
-- Demand the cell could not serve: the rebalancer moves quota towards cells where this grows.
if soldOut > 0 then redis.call('HINCRBY', KEYS[1], 'so', soldOut) end
return out
