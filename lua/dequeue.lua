-- dequeue: lease up to `max` ready tasks (oldest first) to a consumer.
--
-- KEYS: pending delayed leases tasks state errors meta rate signal groups
--   KEYS[1] pending  LIST  ready ids; the rightmost is the oldest (RPOP)
--   KEYS[2] delayed  ZSET  id -> due time ms (due ones are promoted first)
--   KEYS[3] leases   ZSET  "id:token" -> lease deadline ms (one member per leased task), or
--                          "token" (a negative token, no ':') -> deadline of a lease group
--   KEYS[4] tasks    HASH  id -> 7-byte header + payload
--   KEYS[5] state    HASH  id -> "attempts::maxAttempts:leaseMs" (tasks delivered before,
--                          or with their own lease / max attempts; see lua/README.md)
--   KEYS[6] errors   HASH  id -> last error (only cleaned of what a sweep of an older version
--                          wrote under a lease member's name, see below)
--   KEYS[7] meta     HASH  counters (dequeued = token source), settings (paused,
--                          working_limit, rate_limit, rate_window_ms) and the lease defaults
--                          of leases without a state entry (lease_ms, max_attempts)
--   KEYS[8] rate     STRING fixed-window dequeue counter (PEXPIRE = window)
--   KEYS[9] signal   LIST  wake-up token (at most one element)
--   KEYS[10] groups  HASH  group token -> cmsgpack array of the ids it still leases
--                          (meta grouped = the number of tasks held by groups)
-- ARGV[1] max                   tasks to take, 1..1000
-- ARGV[2] default_lease_ms      integer ms > 0, used when the task has no override
-- ARGV[3] default_max_attempts  integer > 0, used when the task has no override
-- ARGV[4] group (optional)      '1' = lease this call's tasks as ONE lease group; absent or ''
--                               = one lease member per task
-- Returns (now = server time in ms):
--   {1, now, first_token, deadline_ms, n, id1, value1, ..., idn, valuen,
--    d, k1, deadline_k1, ..., kd, deadline_kd, j1, attempt_j1, ...}
--       n tasks, 2 values each: value = the stored task value (7-byte header with the
--       enqueue time, then the payload: see tasks). Task k (1-based) holds lease token
--       first_token + k - 1 (integer) and its lease ends at deadline_ms, unless one of the d
--       pairs (k, deadline_k) after the tasks says otherwise (a task with its own lease_ms);
--       it is on its first delivery (attempt 1) unless a pair (j, attempt_j) after those says
--       otherwise (to the end of the reply). Tokens, the shared deadline and first attempts
--       are not repeated per task: each reply element costs the server a conversion.
--       With group = '1', first_token is negative and EVERY task of the call holds it: the
--       tasks with deadline_ms share one lease member (the token) and one groups entry
--       (their ids); a task with its own deadline has the member "id:token".
--   {2, now, next_due_in_ms}   nothing ready; ms until the earliest delayed task
--                              is due, or -1 when there is none
--   {3, now}                   queue paused
--   {4, now, working_count, working_limit}   working limit reached
--   {5, now, retry_after_ms}   rate limit reached for this window
--   {-1, message}              invalid argument (nothing changed)
-- A task's max attempts and lease are fixed at its first delivery: a first delivery with the
-- defaults recorded in meta writes no state entry (the lease is the member "id:token" alone);
-- any other delivery writes "attempts::maxAttempts:leaseMs" to state. The first dequeue of a
-- queue records its defaults in meta; a dequeue with other defaults replaces them only while no
-- lease is held, else it writes state entries for its tasks.
-- A lease group costs one leases member and one groups field per call instead of one member per
-- task; release, requeue, extend and remove take single tasks out of it (O(group size) each),
-- sweep recovers an expired group's tasks one by one (see lua/README.md, "Lease groups").
-- Cost: O(max + promoted) with a constant number of commands.

local rcall = redis.call
local pending, delayed, leases, tasks, state, errors, meta, rate, signal, groups =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]

local MAX_MS = 3153600000000 -- 100 years
local MAX_ATTEMPTS = 1000000
-- Encoding anchors (see lua/README.md): never a task; they keep `leases` a skiplist and
-- `state` a hashtable, so each delivery costs O(log n) / O(1) instead of a listpack scan.
-- '~relq anchor~' then 120 '~' (a literal: building it with string.rep cost every call)
local ANCHOR =
  '~relq anchor~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'

-- Last digits of the call's consecutive lease tokens: a token's text is built as
-- tens .. DIGITS[units + 1], the tens formatted once per ten tokens (string.format costs about
-- four times a concatenation).
local DIGITS = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'}

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

-- Calls cmd key args[first..] in chunks of at most step elements (step <= 1000, even).
local function chunked(cmd, key, args, step, first)
  for i = first or 1, #args, step do
    rcall(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
end

local max = int(ARGV[1], 1, 1000)
if not max then return {-1, 'max must be an integer in 1..1000'} end
local defLease = int(ARGV[2], 1, MAX_MS)
if not defLease then return {-1, 'default_lease_ms must be an integer in 1..' .. MAX_MS} end
local defMax = int(ARGV[3], 1, MAX_ATTEMPTS)
if not defMax then return {-1, 'default_max_attempts must be an integer in 1..' .. MAX_ATTEMPTS} end
if #ARGV > 4 or (#ARGV == 4 and ARGV[4] ~= '' and ARGV[4] ~= '1') then
  return {-1, "expected 3 arguments, or a 4th: group '' or '1'"}
end
local group = ARGV[4] == '1'

local t = rcall('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)

local cfg = rcall('HMGET', meta, 'paused', 'working_limit', 'rate_limit', 'rate_window_ms', 'lease_ms', 'max_attempts',
  'grouped')
if cfg[1] == '1' then return {3, now} end

-- Promote due delayed tasks, in due order (the earliest due is taken first).
-- Arguments to redis.call are passed as strings: Redis formats a Lua number with %.17g,
-- several times the cost of Lua's integer format.
local due = rcall('ZRANGEBYSCORE', delayed, '-inf', string.format('%d', now), 'LIMIT', '0', '1000')
local promoted = #due
if promoted > 0 then
  rcall('ZREM', delayed, unpack(due))
  rcall('LPUSH', pending, unpack(due))
end

local k = max
local wlimit = tonumber(cfg[2])
if wlimit then
  -- Leased tasks: the members but the anchor, a group counted by its tasks.
  local wcount = rcall('ZCOUNT', leases, '-inf', '(inf')
  if cfg[7] then wcount = wcount - rcall('HLEN', groups) + tonumber(cfg[7]) end
  if wlimit - wcount < k then k = wlimit - wcount end
  if k <= 0 then return {4, now, wcount, wlimit} end
end
local rlimit = tonumber(cfg[3])
local rcount = 0
if rlimit then
  rcount = tonumber(rcall('GET', rate) or '0')
  if rlimit - rcount < k then k = rlimit - rcount end
  if k <= 0 then
    local ttl = rcall('PTTL', rate)
    if ttl < 0 then -- defensive: a counter without expiry would block forever
      ttl = tonumber(cfg[4]) or 1000
      rcall('PEXPIRE', rate, ttl)
    end
    return {5, now, ttl}
  end
end

local ids = rcall('RPOP', pending, k == max and ARGV[1] or string.format('%d', k))
if not ids then
  -- Nothing ready: tell the caller how long until the earliest delayed task.
  local first = rcall('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  local dueIn = -1
  if first[2] then
    dueIn = tonumber(first[2]) - now
    if dueIn < 0 then dueIn = 0 end
  end
  return {2, now, dueIn}
end
local popped = #ids

local bodies = rcall('HMGET', tasks, unpack(ids))
-- State entries exist only for tasks delivered before or enqueued with overrides: when `state`
-- holds nothing but its anchor (a queue without retries), they are not looked up.
local states = {}
local hlen = rcall('HLEN', state)
if hlen > 1 or (hlen == 1 and rcall('HEXISTS', state, '') == 0) then
  states = rcall('HMGET', state, unpack(ids))
end

-- Keep only ids whose data exists (defensive: a removed task may linger). The usual case,
-- every one, needs no index table.
local live, m = nil, 0
for i = 1, popped do
  if bodies[i] then m = m + 1 end
end
if m < popped then
  live, m = {}, 0
  for i = 1, popped do
    if bodies[i] then
      m = m + 1; live[m] = i
    else
      -- A sweep from before lease groups takes a lease member it cannot parse for a task id and
      -- pushes it here: a group's token "-T", or "id:-T" (a grouped task with its own lease). Its
      -- tasks are then neither ready nor leased: give them back (ready again, this delivery's
      -- attempt not counted) and drop what that sweep wrote under the member's name.
      -- (That sweep always writes a state entry under the name: the evidence, as no task is
      -- stored under it.)
      -- Any other id without a task is skipped.
      local x = ids[i]
      local given = nil
      if rcall('HEXISTS', state, x) == 1 then
        if string.match(x, '^%-%d+$') then
          local packed = rcall('HGET', groups, x)
          if packed then
            given = cmsgpack.unpack(packed)
            rcall('HDEL', groups, x)
            rcall('ZREM', leases, x)
            rcall('HINCRBY', meta, 'grouped', string.format('%d', -#given))
          end
        else
          local id = string.match(x, '^(.*):%-%d+$')
          if id and rcall('HEXISTS', tasks, id) == 1 and not rcall('ZSCORE', leases, x) then given = {id} end
        end
      end
      if given then
        if #given > 0 then rcall('LPUSH', pending, unpack(given)) end
        rcall('HDEL', state, x)
        rcall('HDEL', errors, x)
      end
    end
  end
end

local out = {1, now}
if m > 0 then
  -- Leases without a state entry take the lease defaults recorded in meta: this call's
  -- defaults when they match (or when no lease is held, so nothing depends on the old ones).
  local bare = cfg[5] == ARGV[2] and cfg[6] == ARGV[3]
  if not bare and (not cfg[5] or rcall('ZCARD', leases) <= 1) then
    rcall('HSET', meta, 'lease_ms', ARGV[2], 'max_attempts', ARGV[3])
    bare = true
  end
  local base = rcall('HINCRBY', meta, 'dequeued', m == max and ARGV[1] or string.format('%d', m)) - m
  local overrides, no, retries, nr = {}, 0, nil, 0
  local zadd, hset, nh, nz = {'inf', ANCHOR}, {'', ANCHOR}, 2, 0
  local units = (base + 1) % 10
  local tens = (base + 1 - units) / 10
  local tensText = tens > 0 and string.format('%d', tens) or ''
  -- Tasks delivered with the defaults share these strings, formatted once per call (a number
  -- argument costs a conversion each).
  local defSuffix = '::' .. ARGV[3] .. ':' .. ARGV[2]
  local defDeadline = now + defLease
  local defDeadlineText = string.format('%d', defDeadline)
  out[3], out[4], out[5] = base + 1, defDeadline, m
  -- A lease group: every task holds the token -(base + 1); the ones with the shared deadline
  -- are listed in gids (one member, one groups field), the others get "id:token" members.
  -- gids stays nil while the group is exactly ids[1..ng] (every popped task live, none with a
  -- deadline of its own: the usual case), and ids itself is packed.
  local gids, ng, gtoken = nil, 0, nil
  if group then
    gtoken = string.format('%d', -(base + 1))
    if live then gids = {} end
    out[3] = -(base + 1)
  end
  for j = 1, m do
    local i = live and live[j] or j
    local id, body = ids[i], bodies[i]
    local attempts, deadlineText = 1, defDeadlineText
    if states[i] then
      local a, _, ma, l = string.match(states[i], '^(%d*):(%d*):(%d*):(%d*)$')
      attempts = (tonumber(a) or 0) + 1
      if attempts ~= 1 then
        if not retries then retries = {} end
        retries[nr + 1], retries[nr + 2], nr = j, attempts, nr + 2
      end
      if not ma or ma == '' then ma = ARGV[3] end
      if not l or l == '' then l = ARGV[2] end
      hset[nh + 1] = id
      hset[nh + 2] = string.format('%d::', attempts) .. ma .. ':' .. l
      nh = nh + 2
      local deadline = now + tonumber(l)
      if deadline ~= defDeadline then
        deadlineText = string.format('%d', deadline)
        overrides[no + 1] = j
        overrides[no + 2] = deadline
        no = no + 2
      end
    elseif not bare then
      hset[nh + 1] = id
      hset[nh + 2] = '1' .. defSuffix
      nh = nh + 2
    end
    if not group then
      zadd[2 * j + 1] = deadlineText
      zadd[2 * j + 2] = id .. ':' .. tensText .. DIGITS[units + 1] -- the lease: id and token base + j
      units = units + 1
      if units == 10 then units = 0; tens = tens + 1; tensText = string.format('%d', tens) end
    elseif deadlineText == defDeadlineText then
      ng = ng + 1
      if gids then gids[ng] = id end
    else
      if not gids then
        -- (the group was ids[1..ng] until this task: listed from here on)
        gids = {}
        for q = 1, ng do gids[q] = ids[q] end
      end
      nz = nz + 2
      zadd[nz + 1] = deadlineText
      zadd[nz + 2] = id .. ':' .. gtoken
    end
    out[2 * j + 4] = id
    out[2 * j + 5] = body
  end
  out[2 * m + 6] = no / 2
  for j = 1, no do out[2 * m + 6 + j] = overrides[j] end
  for j = 1, nr do out[2 * m + 6 + no + j] = retries[j] end
  if ng > 0 then
    zadd[nz + 3] = defDeadlineText
    zadd[nz + 4] = gtoken
    rcall('HSET', groups, gtoken, cmsgpack.pack(gids or ids))
    rcall('HINCRBY', meta, 'grouped', string.format('%d', ng))
  end
  -- The anchor (zadd[1..2]) went in with the first delivery, which recorded the lease defaults
  -- in meta (the same call): not added again while they are recorded.
  chunked('ZADD', leases, zadd, 1000, cfg[5] and 3 or 1)
  if nh > 2 then chunked('HSET', state, hset, 1000) end
  if rlimit then
    if rcall('INCRBY', rate, m) == m then
      rcall('PEXPIRE', rate, tonumber(cfg[4]) or 1000)
    end
  end
end

-- Chain-wake: more ready work remains (or was just promoted) for another waiter. The token
-- is checked first: under load nobody waits, the token stays, and one call decides.
if popped == k and rcall('LLEN', signal) == 0 and rcall('LLEN', pending) > 0 then
  rcall('RPUSH', signal, '1')
end
if m == 0 then
  return {2, now, -1}
end
return out
