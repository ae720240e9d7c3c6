-- dead_retry: move dead-lettered tasks back to pending with attempts reset to 0.
--
-- KEYS: pending dead tasks state meta signal
--   KEYS[1] pending  LIST  ready ids (retried tasks are LPUSHed, oldest dead first)
--   KEYS[2] dead     ZSET  id -> time dead-lettered ms
--   KEYS[3] tasks    HASH  (declared for completeness: data is kept)
--   KEYS[4] state    HASH  id -> "attempts:token:maxAttempts:leaseMs"
--   KEYS[5] meta     HASH  counter dead_retried
--   KEYS[6] signal   LIST  wake-up token (at most one element)
-- ARGV[1] mode  'ids': ARGV[2..] are ids (1..1000), ids not dead are skipped
--               'all': ARGV[2] = limit (1..1000), the oldest dead tasks
-- Returns {1, retried, remaining_dead}; {-1, message} invalid argument.
-- The per-task max attempts and lease in state (fixed at first delivery) are
-- kept; the last error is kept until the next failure or release.

local rcall = redis.call
local pending, dead, tasks, state, meta, signal =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

local ids = {}
if ARGV[1] == 'ids' then
  local n = #ARGV - 1
  if n < 1 or n > 1000 then return {-1, 'ids mode takes 1..1000 ids'} end
  local cand = {unpack(ARGV, 2, #ARGV)}
  local scores = rcall('ZMSCORE', dead, unpack(cand))
  local seen = {}
  for i = 1, n do
    if scores[i] and not seen[cand[i]] then seen[cand[i]] = true; ids[#ids + 1] = cand[i] end
  end
elseif ARGV[1] == 'all' then
  local limit = #ARGV == 2 and int(ARGV[2], 1, 1000)
  if not limit then return {-1, 'all mode takes a limit in 1..1000'} end
  ids = rcall('ZRANGE', dead, 0, limit - 1)
else
  return {-1, "mode must be 'ids' or 'all'"}
end

local n = #ids
if n > 0 then
  rcall('ZREM', dead, unpack(ids))
  local states = rcall('HMGET', state, unpack(ids))
  local hset = {}
  for i = 1, n do
    local maxA, lease = '', ''
    if states[i] then
      maxA, lease = string.match(states[i], '^%d*:%d*:(%d*):(%d*)$')
      maxA, lease = maxA or '', lease or ''
    end
    hset[#hset + 1] = ids[i]
    hset[#hset + 1] = '0::' .. maxA .. ':' .. lease
  end
  for i = 1, #hset, 1000 do
    rcall('HSET', state, unpack(hset, i, math.min(i + 999, #hset)))
  end
  rcall('LPUSH', pending, unpack(ids))
  rcall('HINCRBY', meta, 'dead_retried', n)
  if rcall('LLEN', signal) == 0 then rcall('RPUSH', signal, '1') end
end
return {1, n, rcall('ZCARD', dead)}
