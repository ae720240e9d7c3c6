#!lua flags=no-writes
-- peek: list pending tasks, oldest first (read-only: run with EVALSHA_RO).
--
-- KEYS: pending tasks state
--   KEYS[1] pending  LIST  ready ids (rightmost = oldest)
--   KEYS[2] tasks    HASH  id -> header + payload
--   KEYS[3] state    HASH  id -> "attempts:token:maxAttempts:leaseMs"
-- ARGV[1] offset  tasks to skip from the oldest, integer >= 0 (O(offset / list node size))
-- ARGV[2] count   1..1000
-- Returns {1, total_pending, id, payload, enqueued_ms, attempts, id, ...}
--   4 values per task; {-1, message} invalid argument.

local rcall = redis.call
local pending, tasks, state = KEYS[1], KEYS[2], KEYS[3]

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

local total = rcall('LLEN', pending)
local out = {1, total}
local ids = rcall('LRANGE', pending, -(offset + count), -(offset + 1))
local n = #ids
if n == 0 then return out end
local bodies = rcall('HMGET', tasks, unpack(ids))
local states = rcall('HMGET', state, unpack(ids))
for i = n, 1, -1 do -- LRANGE is newest..oldest: walk it backwards
  local body = bodies[i]
  if body then
    local a1, a2, a3, a4, a5, a6 = string.byte(body, 2, 7)
    local k = #out
    out[k + 1] = ids[i]
    out[k + 2] = string.sub(body, 8)
    out[k + 3] = ((((a1 * 256 + a2) * 256 + a3) * 256 + a4) * 256 + a5) * 256 + a6
    out[k + 4] = states[i] and tonumber(string.match(states[i], '^(%d*):')) or 0
  end
end
return out
