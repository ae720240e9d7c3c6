-- release (ack): finish leased tasks and delete their data.
--
-- KEYS: pending working tasks state errors meta signal
--   KEYS[1] pending  LIST  ready ids (only read: wake-up rule for the working limit)
--   KEYS[2] working  ZSET  id -> lease deadline ms
--   KEYS[3] tasks    HASH  id -> header + payload
--   KEYS[4] state    HASH  id -> "attempts:token:maxAttempts:leaseMs"
--   KEYS[5] errors   HASH  id -> last error
--   KEYS[6] meta     HASH  counter released; setting working_limit
--   KEYS[7] signal   LIST  wake-up token (at most one element)
-- ARGV[1] n: number of (id, token) pairs, 1..1000
-- ARGV[2i], ARGV[2i+1]  id and lease token (decimal, as returned by dequeue)
-- Returns {2, n} when all n pairs were released; otherwise {1, st1, st2, ...}, one
-- status per pair:
--    1 released (task data deleted)
--   -2 stale lease: the task exists but is not leased with this token (nothing changed)
--   -3 not found: already released or removed (a retried ack lands here)
-- {-1, message} on invalid arguments (nothing changed).
-- Cost: O(n) with a constant number of commands.

local rcall = redis.call
local pending, working, tasks, state, errors, meta, signal =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

local n = int(ARGV[1], 1, 1000)
if not n then return {-1, 'n must be an integer in 1..1000'} end
if #ARGV ~= 1 + 2 * n then return {-1, 'expected 1 + 2*n arguments'} end

local ids = {}
for i = 1, n do
  ids[i] = ARGV[2 * i]
  if ids[i] == '' or ARGV[2 * i + 1] == '' then return {-1, 'pair ' .. i .. ': empty id or token'} end
end
local states = rcall('HMGET', state, unpack(ids))

local out, done, m, seen = {1}, {}, 0, {}
for i = 1, n do
  local id = ids[i]
  local s = states[i]
  local tok = s and string.match(s, '^%d*:(%d*):')
  if tok and tok ~= '' and tok == ARGV[2 * i + 1] and not seen[id] then
    seen[id] = true
    m = m + 1
    done[m] = id
    out[i + 1] = 1
  elseif seen[id] or rcall('HEXISTS', tasks, id) == 0 then
    out[i + 1] = -3
  else
    out[i + 1] = -2
  end
end

if m > 0 then
  -- A non-empty token in state means the task is in working (invariant kept by
  -- every script), so ZREM cannot miss.
  local wbefore
  local wlimit = tonumber(rcall('HGET', meta, 'working_limit'))
  if wlimit then wbefore = rcall('ZCOUNT', working, '-inf', '(inf') end
  rcall('ZREM', working, unpack(done))
  rcall('HDEL', tasks, unpack(done))
  rcall('HDEL', state, unpack(done))
  rcall('HDEL', errors, unpack(done))
  -- (a string argument: Redis formats a Lua number with %.17g)
  rcall('HINCRBY', meta, 'released', m == n and ARGV[1] or string.format('%d', m))
  -- Consumers blocked by the working limit may proceed now.
  if wlimit and wbefore >= wlimit and rcall('LLEN', pending) > 0
      and rcall('LLEN', signal) == 0 then
    rcall('RPUSH', signal, '1')
  end
end
if m == n then return {2, m} end -- all released: no status per pair
return out
