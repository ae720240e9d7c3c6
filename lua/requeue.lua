-- requeue (nack / give back): return a leased task to the queue, or dead-letter it.
--
-- KEYS: pending delayed leases dead tasks state errors meta signal groups
--   KEYS[1] pending  LIST  ready ids
--   KEYS[2] delayed  ZSET  id -> due time ms
--   KEYS[3] leases   ZSET  "id:token" -> lease deadline ms; "token" -> deadline of a lease group
--   KEYS[4] dead     ZSET  id -> time dead-lettered ms
--   KEYS[5] tasks    HASH  id -> header + payload
--   KEYS[6] state    HASH  id -> "attempts::maxAttempts:leaseMs"
--   KEYS[7] errors   HASH  id -> last error
--   KEYS[8] meta     HASH  counters requeued, dead_lettered; lease defaults (lease_ms,
--                          max_attempts) of a lease without a state entry
--   KEYS[9] signal   LIST  wake-up token (at most one element)
--   KEYS[10] groups  HASH  group token -> cmsgpack array of the ids it still leases (a task of
--                          a group is taken out of it: O(group size))
-- ARGV[1] id
-- ARGV[2] token            lease token from dequeue
-- ARGV[3] delay_ms         integer ms; '0' = ready now (pending), else delayed
-- ARGV[4] error            last error message, '' = none (keeps the previous one)
-- ARGV[5] give_back        '1' = returned unprocessed (attempt not counted, never
--                          dead-lettered), '0' = normal failure
-- ARGV[6] dead_max_count   retention: keep at most this many dead tasks, '' = unlimited
-- ARGV[7] dead_max_age_ms  retention: drop dead tasks older than this, '' = unlimited
-- Returns
--   {1}   back in pending (delay 0) or delayed
--   {2}   dead-lettered (attempts >= max attempts); retention applied (<= 100 removed)
--   {-2}  stale lease: task exists but not leased with this token (nothing changed)
--   {-3}  not found (nothing changed)
--   {-1, message} invalid argument (nothing changed)

local rcall = redis.call
local pending, delayed, leases, dead, tasks, state, errors, meta, signal, groups =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]

local MAX_MS = 3153600000000 -- 100 years
-- Encoding anchor (see lua/README.md): the field '' (never a task id), whose long value keeps
-- `state` a hashtable (O(1) per field instead of a listpack scan while it is small).
local ANCHOR =
  '~relq anchor~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'

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

local id, token = ARGV[1], ARGV[2]
if #ARGV ~= 7 then return {-1, 'expected 7 arguments'} end
if id == '' or token == '' then return {-1, 'id and token must not be empty'} end
local delay = int(ARGV[3], 0, MAX_MS)
if not delay then return {-1, 'delay_ms must be an integer in 0..' .. MAX_MS} end
local errmsg = ARGV[4]
local giveBack = ARGV[5]
if giveBack ~= '0' and giveBack ~= '1' then return {-1, "give_back must be '0' or '1'"} end
local keepCount, keepAge
if ARGV[6] ~= '' then
  keepCount = int(ARGV[6], 0, 1000000000)
  if not keepCount then return {-1, 'dead_max_count must be empty or an integer >= 0'} end
end
if ARGV[7] ~= '' then
  keepAge = int(ARGV[7], 0, MAX_MS)
  if not keepAge then return {-1, 'dead_max_age_ms must be empty or an integer in 0..' .. MAX_MS} end
end

-- The fence: the lease member "id:token" (a token never holds ':'), or the id in the lease
-- group of that token.
if string.find(token, ':', 1, true) or (rcall('ZREM', leases, id .. ':' .. token) == 0
    and not takeFromGroup(leases, groups, meta, token, id)) then
  if rcall('HEXISTS', tasks, id) == 1 then return {-2} end
  return {-3}
end
-- Attempts, max attempts and lease: from the state entry, or a first delivery with the defaults
-- recorded in meta.
local s = rcall('HGET', state, id)
local a, maxA, lease
if s then a, maxA, lease = string.match(s, '^(%d*):%d*:(%d*):(%d*)$') end
if not a then
  local d = rcall('HMGET', meta, 'max_attempts', 'lease_ms')
  a, maxA, lease = '1', d[1] or '', d[2] or ''
end

local t = rcall('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local attempts = tonumber(a) or 0

if giveBack == '1' then
  if attempts > 0 then attempts = attempts - 1 end
elseif tonumber(maxA) and attempts >= tonumber(maxA) then
  rcall('ZADD', dead, string.format('%d', now), id) -- a string: Redis formats numbers with %.17g
  rcall('HSET', state, id, string.format('%d::', attempts) .. maxA .. ':' .. lease, '', ANCHOR)
  if errmsg == '' then errmsg = 'max attempts reached' end
  rcall('HSET', errors, id, errmsg)
  rcall('HINCRBY', meta, 'dead_lettered', '1')
  -- Retention: drop at most 100 of the oldest dead tasks (over count, then too old).
  local drop = {}
  if keepCount then
    local over = rcall('ZCARD', dead) - keepCount
    if over > 100 then over = 100 end
    if over > 0 then drop = rcall('ZRANGE', dead, 0, over - 1) end
  end
  if keepAge and #drop < 100 then
    local old = rcall('ZRANGEBYSCORE', dead, '-inf', string.format('(%d', now - keepAge), 'LIMIT', #drop, 100 - #drop)
    for i = 1, #old do drop[#drop + 1] = old[i] end
  end
  if #drop > 0 then
    rcall('ZREM', dead, unpack(drop))
    rcall('HDEL', tasks, unpack(drop))
    rcall('HDEL', state, unpack(drop))
    rcall('HDEL', errors, unpack(drop))
  end
  return {2}
end

rcall('HSET', state, id, string.format('%d::', attempts) .. maxA .. ':' .. lease, '', ANCHOR)
if errmsg ~= '' then rcall('HSET', errors, id, errmsg) end
if delay > 0 then
  rcall('ZADD', delayed, string.format('%d', now + delay), id)
else
  rcall('LPUSH', pending, id)
  if rcall('LLEN', signal) == 0 then rcall('RPUSH', signal, '1') end
end
rcall('HINCRBY', meta, 'requeued', '1')
return {1}
