-- dead_purge: delete dead-lettered tasks and their data.
--
-- KEYS: dead tasks state errors
--   KEYS[1] dead    ZSET  id -> time dead-lettered ms
--   KEYS[2] tasks   HASH
--   KEYS[3] state   HASH
--   KEYS[4] errors  HASH
-- ARGV[1] mode  'ids': ARGV[2..] are ids (1..1000), ids not dead are skipped
--               'all': ARGV[2] = limit (1..1000), the oldest dead tasks
-- Returns {1, purged, remaining_dead}; {-1, message} invalid argument.

local rcall = redis.call
local dead, tasks, state, errors = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

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

if #ids > 0 then
  rcall('ZREM', dead, unpack(ids))
  rcall('HDEL', tasks, unpack(ids))
  rcall('HDEL', state, unpack(ids))
  rcall('HDEL', errors, unpack(ids))
end
return {1, #ids, rcall('ZCARD', dead)}
