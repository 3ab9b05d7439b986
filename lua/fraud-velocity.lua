#!lua
--[[ fraud-velocity: the fraud model's sliding-window velocity counters of ONE cell (engine/fraud VELOCITY_COUNTERS).

Mode 'score': records a BATCH of scoring attempts, in order, and returns each one's snapshot, read in the same
atomic step that recorded it (an attempt sees every earlier attempt of the batch and of earlier calls).
KEYS (all under the scoring user's cell tag {c<cell>}; 1 + 6 * n keys):
  1 {c}:fraud:seq                      STRING  cell-wide attempt counter (members of the count sets)
  then per attempt, 6 keys:
  +1 {c}:fraud:u:<user>:att            ZSET    attempt id -> ms         (userAttempts1m, userAttempts1h)
  +2 {c}:fraud:d:<device>:cards        ZSET    card fingerprint -> last seen ms   (deviceDistinctCards24h)
  +3 {c}:fraud:d:<device>:users        ZSET    user id -> last seen ms            (deviceDistinctUsers24h)
  +4 {c}:fraud:ip:<ip>:users           ZSET    user id -> last seen ms            (ipDistinctUsers1h)
  +5 {c}:fraud:c:<card>:small          ZSET    attempt id -> ms, small attempts only (cardSmallAttempts10m)
  +6 {c}:fraud:u:<user>:fail           ZSET    failure id -> ms, read only here   (userFailedPayments24h)
ARGV: 1 'score'   2 now (ms)   3 n (1..MAX_BATCH)
  then n groups of 3: userId (1-128 printable ASCII), cardFingerprint (1-128 printable ASCII), small ('1' when the
  attempt is below 5 USD (isSmallAmount), else '0')
Returns: 7 * n integers, per attempt in VELOCITY_COUNTERS order: userAttempts1m, userAttempts1h,
  deviceDistinctCards24h, deviceDistinctUsers24h, ipDistinctUsers1h, cardSmallAttempts10m (0 and nothing
  recorded when the attempt is not small), userFailedPayments24h (not recorded here).

Mode 'fail': records one failed or declined payment of a user, idempotently by failure id.
KEYS: 1 {c}:fraud:u:<user>:fail   ARGV: 1 'fail'   2 now (ms)   3 failureId (1-128 printable ASCII)
Returns: the user's failures in the last 24 h, this one included. A failure id already in the window keeps its
  first time (ZADD NX), so a redelivered payment event counts once.

Windows (sliding, exact to the ms): an entry counts while its time > now - window, so an entry written with a
  later `now` (another caller's clock) counts too. Per write: ZREMRANGEBYSCORE of the expired part, ZADD (GT for
  the distinct sets: re-adding refreshes last-seen, an older `now` never moves it back), PEXPIRE the key's
  longest window (so a key idle that long is gone; it holds nothing live by then).
Cap: each set keeps at most CAP (1000) entries; beyond it the oldest (lowest score, then lowest member) are
  removed. So a hostile client cannot grow one key past ~1000 entries (~100 KB with 128-char members), and every
  counter saturates at 1000, far above where the model's log features stop mattering.
Error replies (nothing written: every ARGV field is checked before the first write):
  LUA_BAD_ARGUMENT <field>: ...    LUA_BATCH_TOO_LARGE requests: ...
Complexity: per attempt ~18 commands (22 when small), each O(log N + removed) on sets of <= CAP entries; per
  batch 1 INCRBY. MAX_BATCH (16) keeps one call near 0.6 ms of Redis time (~40 us per attempt; see README).
]]
local MAX_BATCH = 16
local CAP = 1000
local W_1M, W_10M, W_1H, W_24H = 60000, 600000, 3600000, 86400000

local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local function int(v, lo, hi)
  if type(v) ~= 'string' or #v > 15 or not string.find(v, '^%d+$') then return nil end
  local n = tonumber(v)
  if n < lo or n > hi then return nil end
  return n
end
local function printable(v)
  return type(v) == 'string' and #v > 0 and #v <= 128 and not string.find(v, '[^%w%p]')
end

-- Trims the expired part, adds, caps and refreshes the expiry of one set; returns its size (the window count).
local function record(key, now, window, flag, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if flag then
    redis.call('ZADD', key, flag, now, member)
  else
    redis.call('ZADD', key, now, member)
  end
  local c = redis.call('ZCARD', key)
  if c > CAP then
    redis.call('ZREMRANGEBYRANK', key, 0, c - CAP - 1)
    c = CAP
  end
  redis.call('PEXPIRE', key, window)
  return c
end

local mode = ARGV[1]
local now = int(ARGV[2], 0, 1e14)

if mode == 'fail' then
  if not now then return bad('now', 'must be an integer ms timestamp') end
  if not printable(ARGV[3]) then return bad('failureId', 'must be 1-128 printable ASCII chars') end
  if #ARGV ~= 3 then return bad('ARGV', 'expected 3 arguments, got ' .. #ARGV) end
  if #KEYS ~= 1 then return bad('KEYS', 'expected 1 key, got ' .. #KEYS) end
  return record(KEYS[1], now, W_24H, 'NX', ARGV[3])
end

if mode ~= 'score' then return bad('mode', "must be 'score' or 'fail'") end
if not now then return bad('now', 'must be an integer ms timestamp') end
local n = int(ARGV[3], 1, 1e9)
if not n then return bad('requests', 'must hold at least one request') end
if n > MAX_BATCH then
  return redis.error_reply('LUA_BATCH_TOO_LARGE requests: ' .. n .. ' > ' .. MAX_BATCH)
end
if #ARGV ~= 3 + 3 * n then return bad('requests', 'expected ' .. (3 + 3 * n) .. ' ARGV, got ' .. #ARGV) end
if #KEYS ~= 1 + 6 * n then return bad('KEYS', 'expected ' .. (1 + 6 * n) .. ' keys, got ' .. #KEYS) end
for i = 0, n - 1 do
  local a = 3 + 3 * i
  if not printable(ARGV[a + 1]) then
    return bad('requests[' .. i .. '].userId', 'must be 1-128 printable ASCII chars')
  end
  if not printable(ARGV[a + 2]) then
    return bad('requests[' .. i .. '].cardFingerprint', 'must be 1-128 printable ASCII chars')
  end
  local s = ARGV[a + 3]
  if s ~= '0' and s ~= '1' then return bad('requests[' .. i .. '].small', "must be '0' or '1'") end
end

local seq = redis.call('INCRBY', KEYS[1], n) - n
local since1m = '(' .. string.format('%d', now - W_1M)
local since24h = '(' .. string.format('%d', now - W_24H)
local out = {}
for i = 0, n - 1 do
  local a, k = 3 + 3 * i, 1 + 6 * i
  local user, card = ARGV[a + 1], ARGV[a + 2]
  local id = string.format('%d', seq + i + 1)
  local att = KEYS[k + 1]
  local h1 = record(att, now, W_1H, nil, id)
  out[#out + 1] = redis.call('ZCOUNT', att, since1m, '+inf')
  out[#out + 1] = h1
  out[#out + 1] = record(KEYS[k + 2], now, W_24H, 'GT', card)
  out[#out + 1] = record(KEYS[k + 3], now, W_24H, 'GT', user)
  out[#out + 1] = record(KEYS[k + 4], now, W_1H, 'GT', user)
  if ARGV[a + 3] == '1' then
    out[#out + 1] = record(KEYS[k + 5], now, W_10M, nil, id)
  else
    out[#out + 1] = 0
  end
  out[#out + 1] = redis.call('ZCOUNT', KEYS[k + 6], since24h, '+inf')
end
return out
