-- extend: push back the lease deadline of a leased task (heartbeat).
--
-- KEYS: leases tasks state meta groups
--   KEYS[1] leases   ZSET  "id:token" -> lease deadline ms; "token" -> deadline of a lease group
--   KEYS[2] tasks    HASH  id -> header + payload (only to tell stale from not found)
--   KEYS[3] state    HASH  id -> "attempts::maxAttempts:leaseMs"
--   KEYS[4] meta     HASH  lease_ms: the lease of a lease without a state entry; grouped
--   KEYS[5] groups   HASH  group token -> cmsgpack array of the ids it still leases: a task of
--                          a group is taken out of it and gets its own member "id:token" with
--                          the new deadline (O(group size)); the rest of the group keeps its own
-- ARGV[1] id
-- ARGV[2] token     lease token from dequeue
-- ARGV[3] lease_ms  integer ms > 0; '' = the task's lease fixed at its first delivery
-- Returns
--   {1, deadline_ms}  new deadline = server now + lease_ms
--   {-2}  stale lease: task exists but not leased with this token (nothing changed)
--   {-3}  not found (nothing changed)
--   {-1, message} invalid argument (nothing changed)

local rcall = redis.call
local leases, tasks, state, meta, groups = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

local MAX_MS = 3153600000000 -- 100 years

-- Takes id out of the lease group `token` (a negative token): true when the group listed it.
-- The group is written back without it, or deleted with its leases member once empty; meta
-- grouped counts one task fewer. O(group size).
local function takeFromGroup(leases, groups, meta, token, id)
  if string.byte(token, 1) ~= 45 then return false end
  local packed = rcall('HGET', groups, token)
  if not packed then return false end
  local list = cmsgpack.unpack(packed)
  local rest, r, found = {}, 0, false
  for j = 1, #list do
    if not found and list[j] == id then found = true else r = r + 1; rest[r] = list[j] end
  end
  if not found then return false end
  if r == 0 then
    rcall('ZREM', leases, token)
    rcall('HDEL', groups, token)
  else
    rcall('HSET', groups, token, cmsgpack.pack(rest))
  end
  rcall('HINCRBY', meta, 'grouped', '-1')
  return true
end

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

if #ARGV ~= 3 then return {-1, 'expected 3 arguments'} end
local id, token = ARGV[1], ARGV[2]
if id == '' or token == '' then return {-1, 'id and token must not be empty'} end
local lease
if ARGV[3] ~= '' then
  lease = int(ARGV[3], 1, MAX_MS)
  if not lease then return {-1, 'lease_ms must be empty or an integer in 1..' .. MAX_MS} end
end

-- The fence: the lease member "id:token" (a token never holds ':').
local member = id .. ':' .. token
if string.find(token, ':', 1, true) then return rcall('HEXISTS', tasks, id) == 1 and {-2} or {-3} end
local grouped = false -- the task is in the lease group of token (taken out below)
if not rcall('ZSCORE', leases, member) then
  local packed = string.byte(token, 1) == 45 and rcall('HGET', groups, token)
  if packed then
    for _, gid in ipairs(cmsgpack.unpack(packed)) do
      if gid == id then grouped = true; break end
    end
  end
  if not grouped then
    if rcall('HEXISTS', tasks, id) == 1 then return {-2} end
    return {-3}
  end
end
if not lease then
  local s = rcall('HGET', state, id)
  local l = s and string.match(s, '^%d*:%d*:%d*:(%d*)$')
  lease = tonumber(l) or tonumber(rcall('HGET', meta, 'lease_ms'))
end
if not lease then return {-1, 'no lease_ms given and none stored'} end

local t = rcall('TIME')
local deadline = t[1] * 1000 + math.floor(t[2] / 1000) + lease
if grouped then takeFromGroup(leases, groups, meta, token, id) end
rcall('ZADD', leases, string.format('%d', deadline), member) -- a string: Redis formats numbers with %.17g
return {1, deadline}
