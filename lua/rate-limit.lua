#!lua
--[[ rate-limit: token bucket. A bucket holds up to `capacity` tokens and gains `refillTokens` every
`refillMs`, continuously. A request takes `cost` tokens if it can, else it is denied and nothing changes.

Exact integer arithmetic: the level is stored in units of 1/refillMs token (level = tokens * refillMs), so a
refill of e ms adds e * refillTokens units and no rounding ever drifts.
KEYS: 1 bucket HASH  (any tag; by convention {c<cell>}:rl:<name>)  fields lv (level units), ts (ms)
ARGV: 1 now (ms)   2 capacity (1..1e6)   3 refillTokens (1..1e6)   4 refillMs (1..1e7)   5 cost (1..capacity)
  A missing bucket is full. A `now` older than the bucket's time refills nothing (callers' clocks differ), and
  its retryAfterMs counts from that `now`.
Returns: { allowed (1 | 0), remaining (whole tokens left after this request), retryAfterMs (0 when allowed;
  else the wait until `cost` tokens are there) }
Writes only when allowed: HSET + PEXPIRE (time until full + 60 s: after that an absent bucket is exactly a
  full one; the grace covers callers whose clocks run behind Redis').
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...
Complexity: O(1); 3 commands.
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
local now = int(ARGV[1], 0, 1e14)
if not now then return bad('now', 'must be an integer ms timestamp') end
local cap = int(ARGV[2], 1, 1e6)
if not cap then return bad('capacity', 'must be an integer 1..1000000') end
local rt = int(ARGV[3], 1, 1e6)
if not rt then return bad('refillTokens', 'must be an integer 1..1000000') end
local rms = int(ARGV[4], 1, 1e7)
if not rms then return bad('refillMs', 'must be an integer 1..10000000') end
local cost = int(ARGV[5], 1, cap)
if not cost then return bad('cost', 'must be an integer 1..capacity') end
if #ARGV ~= 5 then return bad('ARGV', 'expected 5 arguments') end

local capU, costU = cap * rms, cost * rms
local b = redis.call('HMGET', KEYS[1], 'lv', 'ts')
local lv, ts = capU, now
if b[1] then
  lv, ts = tonumber(b[1]), tonumber(b[2])
  if lv > capU then lv = capU end
  if now > ts then
    local need = capU - lv
    if now - ts >= math.ceil(need / rt) then lv = capU else lv = lv + (now - ts) * rt end
    ts = now
  end
end
if lv < costU then
  -- measured from the caller's clock: a caller behind the bucket's time also waits out the difference
  return { 0, math.floor(lv / rms), math.ceil((costU - lv) / rt) + ts - math.min(ts, now) }
end
lv = lv - costU
redis.call('HSET', KEYS[1], 'lv', lv, 'ts', ts)
redis.call('PEXPIRE', KEYS[1], math.ceil((capU - lv) / rt) + 60000)
return { 1, math.floor(lv / rms), 0 }
