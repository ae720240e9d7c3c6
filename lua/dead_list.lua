#!lua flags=no-writes
-- dead_list: list dead-lettered tasks, oldest first (read-only: run with EVALSHA_RO).
--
-- KEYS: dead tasks state errors
--   KEYS[1] dead    ZSET  id -> time dead-lettered ms
--   KEYS[2] tasks   HASH  id -> header + payload
--   KEYS[3] state   HASH  id -> "attempts:token:maxAttempts:leaseMs"
--   KEYS[4] errors  HASH  id -> last error
-- ARGV[1] offset  integer >= 0 (rank from the oldest)
-- ARGV[2] count   1..1000
-- Returns {1, total_dead, id, payload, attempts, last_error, dead_at_ms, id, ...}
--   5 values per task; {-1, message} invalid argument.

local rcall = redis.call
local dead, tasks, state, errors = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

if #ARGV ~= 2 then return {-1, 'expected 2 arguments'} end
local offset = int(ARGV[1], 0, 1000000000)
if not offset then return {-1, 'offset must be an integer >= 0'} end
local count = int(ARGV[2], 1, 1000)
if not count then return {-1, 'count must be an integer in 1..1000'} end

local out = {1, rcall('ZCARD', dead)}
local r = rcall('ZRANGE', dead, offset, offset + count - 1, 'WITHSCORES')
local ids, at = {}, {}
for i = 1, #r, 2 do ids[#ids + 1] = r[i]; at[#at + 1] = tonumber(r[i + 1]) end
if #ids == 0 then return out end
local bodies = rcall('HMGET', tasks, unpack(ids))
local states = rcall('HMGET', state, unpack(ids))
local errs = rcall('HMGET', errors, unpack(ids))
for i = 1, #ids do
  local k = #out
  out[k + 1] = ids[i]
  out[k + 2] = bodies[i] and string.sub(bodies[i], 8) or ''
  out[k + 3] = states[i] and tonumber(string.match(states[i], '^(%d*):')) or 0
  out[k + 4] = errs[i] or ''
  out[k + 5] = at[i]
end
return out
