-- sweep: recover tasks whose lease expired, promote due delayed tasks, trim dead.
--
-- KEYS: pending delayed leases dead tasks state errors meta signal working groups
--   KEYS[1] pending  LIST  ready ids
--   KEYS[2] delayed  ZSET  id -> due time ms
--   KEYS[3] leases   ZSET  "id:token" -> lease deadline ms; "token" -> deadline of a lease group
--   KEYS[4] dead     ZSET  id -> time dead-lettered ms
--   KEYS[5] tasks    HASH  id -> header + payload
--   KEYS[6] state    HASH  id -> "attempts::maxAttempts:leaseMs"
--   KEYS[7] errors   HASH  id -> last error
--   KEYS[8] meta     HASH  counters timed_out, dead_lettered, grouped; lease defaults
--                          (lease_ms, max_attempts) of leases without a state entry
--   KEYS[9] signal   LIST  wake-up token (at most one element)
--   KEYS[10] working ZSET  id -> lease deadline ms: leases written by the scripts of queue
--                          layout 1 (lua/README.md), recovered here the same way once expired
--   KEYS[11] groups  HASH  group token -> cmsgpack array of the ids it still leases: an
--                          expired group's tasks are recovered one by one (each counts toward
--                          limit; a group larger than what is left of it is taken in part)
-- ARGV[1] limit            max expired leases (and max delayed promotions) handled, 1..1000
-- ARGV[2] retry_delay_ms   integer ms; '0' = straight back to pending, else delayed
-- ARGV[3] dead_max_count   retention, '' = unlimited
-- ARGV[4] dead_max_age_ms  retention, '' = unlimited
-- Returns {1, recovered, dead_lettered, promoted, trimmed, more}
--   more = 1 when expired leases remain (call again), else 0.
--   {-1, message} invalid argument (nothing changed).
-- Atomic: an expired task is ZREMed and moved once, so concurrent sweepers are safe.
-- Cost: O(limit) with a constant number of commands.

local rcall = redis.call
local pending, delayed, leases, dead, tasks, state, errors, meta, signal, working, groups =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]

local MAX_MS = 3153600000000 -- 100 years
-- Encoding anchor (see lua/README.md): the field '' (never a task id), whose long value keeps
-- `state` a hashtable (O(1) per field instead of a listpack scan while it is small).
local ANCHOR =
  '~relq anchor~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

-- Calls cmd key args[1..] in chunks of at most step elements (step <= 1000, even).
local function chunked(cmd, key, args, step)
  for i = 1, #args, step do
    rcall(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
end

if #ARGV ~= 4 then return {-1, 'expected 4 arguments'} end
local limit = int(ARGV[1], 1, 1000)
if not limit then return {-1, 'limit must be an integer in 1..1000'} end
local retryDelay = int(ARGV[2], 0, MAX_MS)
if not retryDelay then return {-1, 'retry_delay_ms must be an integer in 0..' .. MAX_MS} end
local keepCount, keepAge
if ARGV[3] ~= '' then
  keepCount = int(ARGV[3], 0, 1000000000)
  if not keepCount then return {-1, 'dead_max_count must be empty or an integer >= 0'} end
end
if ARGV[4] ~= '' then
  keepAge = int(ARGV[4], 0, MAX_MS)
  if not keepAge then return {-1, 'dead_max_age_ms must be empty or an integer in 0..' .. MAX_MS} end
end

local t = rcall('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
-- Arguments to redis.call are passed as strings: Redis formats a Lua number with %.17g.
local nowText = string.format('%d', now)
local toPending = false

-- 1. Promote due delayed tasks (bounded by limit).
local due = rcall('ZRANGEBYSCORE', delayed, '-inf', nowText, 'LIMIT', '0', ARGV[1])
local promoted = #due
if promoted > 0 then
  rcall('ZREM', delayed, unpack(due))
  rcall('LPUSH', pending, unpack(due))
  toPending = true
end

-- 2. Expired leases (one extra to know whether more remain), then expired leases of layout 1
-- (members are ids) while the limit allows.
local expired = rcall('ZRANGEBYSCORE', leases, '-inf', nowText, 'LIMIT', '0', string.format('%d', limit + 1))
local more = 0
local ids, gone, leased, ngone, grouped = {}, {}, 0, 0, 0
for i = 1, #expired do
  if leased >= limit then more = 1; break end
  local member = expired[i]
  if string.find(member, ':', 1, true) then
    -- "id:token": the id is everything before the last ':' (a token never holds one)
    leased = leased + 1
    ids[leased] = string.match(member, '^(.*):%-?%d+$') or member
    ngone = ngone + 1
    gone[ngone] = member
  else
    -- a lease group (its token): its tasks, as far as the limit allows
    local packed = rcall('HGET', groups, member)
    local list = packed and cmsgpack.unpack(packed) or {}
    local take = math.min(#list, limit - leased)
    for j = 1, take do ids[leased + j] = list[j] end
    leased = leased + take
    grouped = grouped + take
    if take < #list then
      rcall('HSET', groups, member, cmsgpack.pack({unpack(list, take + 1)}))
      more = 1
      break
    end
    ngone = ngone + 1
    gone[ngone] = member
    if packed then rcall('HDEL', groups, member) end
  end
end
if grouped > 0 then rcall('HINCRBY', meta, 'grouped', string.format('%d', -grouped)) end
if more == 0 and leased < limit then
  local old = rcall('ZRANGEBYSCORE', working, '-inf', nowText, 'LIMIT', '0', string.format('%d', limit - leased + 1))
  if #old > limit - leased then more = 1; old[limit - leased + 1] = nil end
  if #old > 0 then
    rcall('ZREM', working, unpack(old))
    for i = 1, #old do ids[leased + i] = old[i] end
  end
end
local recovered, deadN = 0, 0
if #ids > 0 then
  if ngone > 0 then rcall('ZREM', leases, unpack(gone, 1, ngone)) end
  local states = rcall('HMGET', state, unpack(ids))
  -- A lease without a state entry is a first delivery with the defaults recorded in meta.
  local defaults = rcall('HMGET', meta, 'max_attempts', 'lease_ms')
  local defMax, defLease = defaults[1] or '', defaults[2] or ''
  local back, deadL, hstate, herr = {}, {}, {'', ANCHOR}, {}
  local dueText = string.format('%d', now + retryDelay)
  for i = 1, #ids do
    local id = ids[i]
    local a, maxA, lease = '1', defMax, defLease
    if states[i] then
      a, maxA, lease = string.match(states[i], '^(%d*):%d*:(%d*):(%d*)$')
      if not a then a, maxA, lease = '', '', '' end
    end
    -- attempts as stored (decimal digits, written by these scripts); '' = none yet
    if a == '' then a = '0' end
    local attempts, maxN = tonumber(a), tonumber(maxA)
    hstate[#hstate + 1] = id
    hstate[#hstate + 1] = a .. '::' .. maxA .. ':' .. lease
    herr[#herr + 1] = id
    if maxN and attempts >= maxN then
      deadN = deadN + 1
      deadL[#deadL + 1] = nowText
      deadL[#deadL + 1] = id
      herr[#herr + 1] = 'lease expired after ' .. a .. ' attempts'
    else
      recovered = recovered + 1
      if retryDelay > 0 then
        back[#back + 1] = dueText
        back[#back + 1] = id
      else
        back[#back + 1] = id
      end
      herr[#herr + 1] = 'lease expired'
    end
  end
  chunked('HSET', state, hstate, 1000)
  chunked('HSET', errors, herr, 1000)
  if #deadL > 0 then chunked('ZADD', dead, deadL, 1000) end
  if #back > 0 then
    if retryDelay > 0 then
      chunked('ZADD', delayed, back, 1000)
    else
      rcall('LPUSH', pending, unpack(back))
      toPending = true
    end
  end
  rcall('HINCRBY', meta, 'timed_out', string.format('%d', recovered + deadN))
  if deadN > 0 then rcall('HINCRBY', meta, 'dead_lettered', string.format('%d', deadN)) end
end

-- 3. Retention trim of dead tasks (bounded by limit).
local drop = {}
if keepCount then
  local over = rcall('ZCARD', dead) - keepCount
  if over > limit then over = limit end
  if over > 0 then drop = rcall('ZRANGE', dead, 0, over - 1) end
end
if keepAge and #drop < limit then
  local old = rcall('ZRANGEBYSCORE', dead, '-inf', string.format('(%d', now - keepAge), 'LIMIT', #drop, limit - #drop)
  for i = 1, #old do drop[#drop + 1] = old[i] end
end
if #drop > 0 then
  rcall('ZREM', dead, unpack(drop))
  rcall('HDEL', tasks, unpack(drop))
  rcall('HDEL', state, unpack(drop))
  rcall('HDEL', errors, unpack(drop))
end

if toPending and rcall('LLEN', signal) == 0 then rcall('RPUSH', signal, '1') end
return {1, recovered, deadN, promoted, #drop, more}
