#!lua
--[[ idempotency-begin: first step of an Idempotency-Key protected request of a non-Lua endpoint. Claims the
key with a short lease and the request's fingerprint, or says why the request must not run.

KEYS: 1 record HASH  (by convention {c<cell>}:idk:<scope>:<key>)
        st ('p' pending | 'd' done), fp (fingerprint), tok (lease owner), le (lease end ms), code, body
ARGV: 1 now (ms)   2 fingerprint (1-128 printable chars, e.g. a hash of method + path + body)
      3 token (1-64 chars, unique per attempt)   4 leaseMs (1..600000)
Returns, checked in this order:
  { 'MISMATCH' }                     the key was used with another fingerprint (HTTP 422)
  { 'REPLAY', status, body }         completed before: the stored answer (replay it)
  { 'IN_FLIGHT', retryAfterMs }      another attempt holds a live lease (HTTP 409)
  { 'STARTED' }                      claimed by `token` until now + leaseMs: run the request, then complete
                                     (a pending record whose lease ended is claimed again)
Writes only on STARTED: HSET + PEXPIRE (lease + 60 s, a garbage-collection bound; the lease itself is
  judged by `now`, so tests and callers control the clock).
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...
Complexity: O(1); at most 3 commands.
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
local fp, token = ARGV[2], ARGV[3]
if type(fp) ~= 'string' or #fp == 0 or #fp > 128 or string.find(fp, '[^%w%p]') then
  return bad('fingerprint', 'must be 1-128 printable ASCII chars')
end
if type(token) ~= 'string' or #token == 0 or #token > 64 or string.find(token, '[^%w_.%-]') then
  return bad('token', 'must be 1-64 chars of [A-Za-z0-9_.-]')
end
local lease = int(ARGV[4], 1, 600000)
if not lease then return bad('leaseMs', 'must be an integer 1..600000') end
if #ARGV ~= 4 then return bad('ARGV', 'expected 4 arguments') end

local rec = redis.call('HMGET', KEYS[1], 'st', 'fp', 'le', 'code', 'body')
if rec[1] then
  if rec[2] ~= fp then return { 'MISMATCH' } end
  if rec[1] == 'd' then return { 'REPLAY', tonumber(rec[4]), rec[5] } end
  local le = tonumber(rec[3])
  if now < le then return { 'IN_FLIGHT', le - now } end
end
redis.call('HSET', KEYS[1], 'st', 'p', 'fp', fp, 'tok', token, 'le', now + lease)
redis.call('PEXPIRE', KEYS[1], lease + 60000)
return { 'STARTED' }
