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
--   -3 not found: already released or removed (a retried ack lands here), or released
--      by an earlier pair of this call (a task named twice is released once)
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

local argv = ARGV -- (a local: every ARGV is a global lookup)
local ids = {}
for i = 1, n do
  ids[i] = argv[2 * i]
  if ids[i] == '' or argv[2 * i + 1] == '' then return {-1, 'pair ' .. i .. ': empty id or token'} end
end
local states = rcall('HMGET', state, unpack(ids))

-- Fence check: the state's second field equals the token. Two plain finds and a substring
-- (the token's text is already a Lua string, so the substring is found, not allocated)
-- instead of a pattern match, which cost ~1.6k instructions per task.
local find, sub = string.find, string.sub
local out, done, m = {1}, {}, 0
for i = 1, n do
  local s = states[i]
  local c = s and find(s, ':', 1, true)
  local d = c and find(s, ':', c + 1, true)
  if d and sub(s, c + 1, d - 1) == argv[2 * i + 1] then
    m = m + 1
    done[m] = ids[i]
    out[i + 1] = 1
  else
    out[i + 1] = 0 -- decided below: stale or not found
  end
end

if m > 0 then
  -- A non-empty token in state means the task is in working (invariant kept by
  -- every script), so ZREM removes each fenced task: fewer removed than fenced means
  -- a task was named twice in this call. Only then are repeats found (the first pair
  -- releases, a repeat is "not found", as a retried ack would be).
  local wbefore
  local wlimit = tonumber(rcall('HGET', meta, 'working_limit'))
  if wlimit then wbefore = rcall('ZCOUNT', working, '-inf', '(inf') end
  local removed = rcall('ZREM', working, unpack(done, 1, m))
  if removed < m then
    local seen, u = {}, 0
    for i = 1, n do
      if out[i + 1] == 1 then
        local id = ids[i]
        if seen[id] then out[i + 1] = 0 else seen[id] = true; u = u + 1; done[u] = id end
      end
    end
    m = u
  end
  rcall('HDEL', tasks, unpack(done, 1, m))
  rcall('HDEL', state, unpack(done, 1, m))
  rcall('HDEL', errors, unpack(done, 1, m))
  -- (a string argument: Redis formats a Lua number with %.17g)
  rcall('HINCRBY', meta, 'released', m == n and argv[1] or string.format('%d', m))
  -- Consumers blocked by the working limit may proceed now.
  if wlimit and wbefore >= wlimit and rcall('LLEN', pending) > 0
      and rcall('LLEN', signal) == 0 then
    rcall('RPUSH', signal, '1')
  end
end
if m < n then
  -- Pairs not released: stale when the task exists, else not found.
  for i = 1, n do
    if out[i + 1] == 0 then
      out[i + 1] = rcall('HEXISTS', tasks, ids[i]) == 1 and -2 or -3
    end
  end
end
if m == n then return {2, m} end -- all released: no status per pair
return out
