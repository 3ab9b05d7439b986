#!lua
--[[ idempotency-end: last step of an Idempotency-Key protected request. 'complete' stores the answer once
(status + body) for ttlMs; 'abort' drops the claim so the client may retry (e.g. the handler failed before
changing anything). Only the lease owner (token) may end a pending record.

KEYS: 1 record HASH (see idempotency-begin)
ARGV: 1 op ('complete' | 'abort')   2 token
      complete only: 3 status (100..599)   4 body (string, at most 1 MiB)   5 ttlMs (1..2592000000)
Returns one status string:
  STORED              complete: the answer is stored, the key replays it until it expires
  ABORTED             abort: the claim is gone
  ALREADY_COMPLETED   the record is complete already (by this or an earlier attempt): nothing written
  LEASE_LOST          no pending record owned by `token` (lease ended and was taken, or it expired): nothing written
Error replies (nothing written): LUA_BAD_ARGUMENT <field>: ...
Complexity: O(1) + O(body); at most 4 commands.
]]
local function bad(field, why)
  return redis.error_reply('LUA_BAD_ARGUMENT ' .. field .. ': ' .. why)
end
local op, token = ARGV[1], ARGV[2]
if op ~= 'complete' and op ~= 'abort' then return bad('op', "must be 'complete' or 'abort'") end
if type(token) ~= 'string' or #token == 0 or #token > 64 or string.find(token, '[^%w_.%-]') then
  return bad('token', 'must be 1-64 chars of [A-Za-z0-9_.-]')
end
local status, body, ttl
if op == 'complete' then
  status, body, ttl = ARGV[3], ARGV[4], ARGV[5]
  if type(status) ~= 'string' or not string.find(status, '^[1-5]%d%d$') then
    return bad('status', 'must be an HTTP status 100..599')
  end
  if type(body) ~= 'string' or #body > 1048576 then return bad('body', 'must be a string of at most 1 MiB') end
  if type(ttl) ~= 'string' or #ttl > 10 or not string.find(ttl, '^%d+$') or tonumber(ttl) < 1
    or tonumber(ttl) > 2592000000 then
    return bad('ttlMs', 'must be an integer 1..2592000000')
  end
  if #ARGV ~= 5 then return bad('ARGV', 'expected 5 arguments') end
elseif #ARGV ~= 2 then
  return bad('ARGV', 'expected 2 arguments')
end

local rec = redis.call('HMGET', KEYS[1], 'st', 'tok')
if rec[1] == 'd' then return 'ALREADY_COMPLETED' end
if rec[1] ~= 'p' or rec[2] ~= token then return 'LEASE_LOST' end
if op == 'abort' then
  redis.call('DEL', KEYS[1])
  return 'ABORTED'
end
redis.call('HSET', KEYS[1], 'st', 'd', 'code', status, 'body', body)
redis.call('HDEL', KEYS[1], 'tok', 'le')
redis.call('PEXPIRE', KEYS[1], ttl)
return 'STORED'
