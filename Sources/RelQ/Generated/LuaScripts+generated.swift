// GENERATED FILE: DO NOT EDIT.
// Source: lua/*.lua. Regenerate with: scripts/generate-lua.sh
// Checked by: scripts/check-generated.sh and Tests/RelQTests/LuaEmbeddingTests.swift

// swift-format-ignore-file

/// The queue protocol scripts, embedded byte-exact from `lua/`.
enum LuaScripts {

    static let configure = LuaScript(
        name: "configure",
        sha1: "88228ed0f695bfca15f67cfab290fee6d51c1df2",
        keys: ["pending", "meta", "signal"],
        readOnly: false,
        source: #"""
-- configure: set or clear shared queue settings (all validated before any write).
--
-- KEYS: pending meta signal
--   KEYS[1] pending  LIST  ready ids (only read: wake consumers if non-empty)
--   KEYS[2] meta     HASH  settings working_limit, rate_limit, rate_window_ms, paused
--   KEYS[3] signal   LIST  wake-up token (at most one element)
-- ARGV pairs (1..8 pairs): field, value
--   working_limit   max tasks in working (queue-wide), integer 1..1000000000
--   rate_limit      max dequeued tasks per window, integer 1..1000000000
--   rate_window_ms  window length in ms, integer 1..86400000 (default 1000 when unset)
--   paused          '1' pause dequeue, '0' resume
--   value ''        removes the setting (same as '0' for paused)
-- Returns {1}; {-1, message} invalid argument (nothing changed).

local rcall = redis.call
local pending, meta, signal = KEYS[1], KEYS[2], KEYS[3]

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

local caps = {working_limit = 1000000000, rate_limit = 1000000000, rate_window_ms = 86400000}
if #ARGV < 2 or #ARGV > 16 or #ARGV % 2 ~= 0 then return {-1, 'expected 1..8 field/value pairs'} end
local set, del = {}, {}
for i = 1, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  if f == 'paused' then
    if v == '1' then set[#set + 1] = f; set[#set + 1] = '1'
    elseif v == '0' or v == '' then del[#del + 1] = f
    else return {-1, "paused must be '1', '0' or ''"} end
  elseif caps[f] then
    if v == '' then del[#del + 1] = f
    elseif int(v, 1, caps[f]) then set[#set + 1] = f; set[#set + 1] = v
    else return {-1, f .. ' must be an integer in 1..' .. caps[f] .. " or ''"} end
  else
    return {-1, 'unknown setting: ' .. f}
  end
end
if #del > 0 then rcall('HDEL', meta, unpack(del)) end
if #set > 0 then rcall('HSET', meta, unpack(set)) end
if rcall('LLEN', pending) > 0 and rcall('LLEN', signal) == 0 then rcall('RPUSH', signal, '1') end
return {1}

"""#
    )

    static let deadList = LuaScript(
        name: "dead_list",
        sha1: "523fa5655d966b3350e1e8706aaa7b4289aa3710",
        keys: ["dead", "tasks", "state", "errors"],
        readOnly: true,
        source: #"""
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

"""#
    )

    static let deadPurge = LuaScript(
        name: "dead_purge",
        sha1: "d89c73f1149da28d7c3245cc867290e1d6c59bcd",
        keys: ["dead", "tasks", "state", "errors"],
        readOnly: false,
        source: #"""
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

"""#
    )

    static let deadRetry = LuaScript(
        name: "dead_retry",
        sha1: "6f1c630494e89a337fe83f32b6798b5f2f6e291d",
        keys: ["pending", "dead", "tasks", "state", "meta", "signal"],
        readOnly: false,
        source: #"""
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

"""#
    )

    static let dequeue = LuaScript(
        name: "dequeue",
        sha1: "0f30199931dd69c03cd3cbce2c6c87c7fc746cb5",
        keys: ["pending", "delayed", "leases", "tasks", "state", "errors", "meta", "rate", "signal", "groups"],
        readOnly: false,
        source: #"""
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

"""#
    )

    static let enqueue = LuaScript(
        name: "enqueue",
        sha1: "31ce289758adc2c612b7a8647d97677778000ecd",
        keys: ["pending", "delayed", "tasks", "state", "meta", "signal"],
        readOnly: false,
        source: #"""
-- enqueue: add up to 1000 tasks to a queue (ready now or delayed).
--
-- KEYS: pending delayed tasks state meta signal
--   KEYS[1] pending  LIST  ready task ids (LPUSH here, consumers RPOP)
--   KEYS[2] delayed  ZSET  id -> due time (ms since epoch)
--   KEYS[3] tasks    HASH  id -> 7-byte header (version 1, enqueue ms u48 BE) + payload;
--                          field '' = the encoding anchor, whose value holds the id fence
--   KEYS[4] state    HASH  id -> "attempts:token:maxAttempts:leaseMs" (only with overrides)
--   KEYS[5] meta     HASH  counters (seq, enqueued) and settings
--   KEYS[6] signal   LIST  wake-up token for blocked consumers (at most one element)
-- ARGV[1]  n: number of tasks, 1..1000
-- then n groups of 5 (full form, #ARGV = 1 + 5n), for task i (base b = 1 + 5*(i-1)):
--   ARGV[b+1] id            1..128 bytes; '' = server-assigned (HINCRBY meta seq, decimal)
--   ARGV[b+2] payload       bytes (binary-safe)
--   ARGV[b+3] delay_ms      integer ms, '0' = ready now
--   ARGV[b+4] lease_ms      integer ms > 0, '' = queue default
--   ARGV[b+5] max_attempts  integer > 0, '' = queue default
-- or n groups of 2 (short form, #ARGV = 1 + 2n: ready now, queue defaults):
--   ARGV[2i] id, ARGV[2i+1] payload
-- or n payloads (payloads form, #ARGV = 1 + n: server-assigned ids, ready now, queue defaults):
--   ARGV[i+1] payload
-- Returns {1, id1, st1, id2, st2, ...}; st 1 = enqueued, 0 = duplicate id (nothing
-- changed for that task). {2, first_id, n} instead when every id was server-assigned and
-- they are consecutive (the usual case): task i was enqueued with id first_id + i - 1
-- (an integer; the id is its decimal text). {-1, message} on invalid arguments (nothing changed).
-- Server ids are checked against tasks only while the id fence (the anchor's value, see
-- lua/README.md "Server ids") does not hold; caller ids always are.
-- Cost: O(n) plus a constant number of commands (multi-element HSET/LPUSH/ZADD).

local rcall = redis.call
local pending, delayed, tasks, state, meta, signal =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

local MAX_MS = 3153600000000 -- 100 years
local MAX_ATTEMPTS = 1000000
-- Encoding anchor (see lua/README.md): a field no task id can be, whose long value keeps
-- `tasks` and `state` in hashtable encoding (O(1) per field instead of a listpack scan).
-- '~relq anchor~' then 120 '~' (a literal: building it with string.rep cost every call)
local ANCHOR =
  '~relq anchor~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'

-- The anchor's value also says whether the id fence holds (lua/README.md, "Server ids"): FENCE0
-- (no caller id a server id could equal), FENCE_PREFIX .. M .. '~' .. padding (caller ids up to M),
-- or ANCHOR (does not hold: every enqueue script before the fence writes ANCHOR). Both fence
-- values are over 64 bytes, so they anchor the encoding as ANCHOR does.
local FENCE_PREFIX = '~relq fence '
local FENCE0 =
  '~relq fence 0~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'
local FENCE_PAD = '~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'

-- Last digits of consecutive server ids: the id text is built as tens .. DIGITS[units + 1], the
-- tens formatted once per ten ids (string.format cost about four times a concatenation).
local DIGITS = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'}

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

-- 7-byte task header: version 1, then enqueue time in ms as 48-bit big-endian.
local function header(ms)
  local b6 = ms % 256; ms = (ms - b6) / 256
  local b5 = ms % 256; ms = (ms - b5) / 256
  local b4 = ms % 256; ms = (ms - b4) / 256
  local b3 = ms % 256; ms = (ms - b3) / 256
  local b2 = ms % 256; ms = (ms - b2) / 256
  local b1 = ms % 256
  return string.char(1, b1, b2, b3, b4, b5, b6)
end

-- Calls cmd key args[first..] in chunks of at most step elements (step <= 1000).
local function chunked(cmd, key, args, step, first)
  local r
  for i = first or 1, #args, step do
    r = rcall(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
  return r
end

local n = int(ARGV[1], 1, 1000)
if not n then return {-1, 'n must be an integer in 1..1000'} end
-- w: arguments per task (5 = full form, 2 = short form, 1 = payloads form); po: the payload's
-- place in a task's arguments.
local w = 5
if #ARGV == 1 + 2 * n then w = 2
elseif #ARGV == 1 + n then w = 1
elseif #ARGV ~= 1 + 5 * n then return {-1, 'expected 1 + 5*n, 1 + 2*n or 1 + n arguments'} end
local po = w == 1 and 1 or 2

local argv = ARGV -- (a local: every ARGV is a global lookup)
-- Validate everything before writing anything.
local delays, server = {}, 0
if w == 1 then
  server = n -- payloads form: every id server-assigned, ready now, queue defaults
elseif w == 2 then
  -- Short form: ready now, queue defaults (delays stay empty: nil means 0).
  for i = 1, n do
    local id = argv[2 * i]
    if id == '' then server = server + 1
    elseif #id > 128 then return {-1, 'task ' .. i .. ': id must be at most 128 bytes'} end
  end
else
  for i = 1, n do
    local b = 1 + w * (i - 1)
    local d = argv[b + 3]
    if d == '0' then d = 0 else d = int(d, 0, MAX_MS) end
    if not d then return {-1, 'task ' .. i .. ': delay_ms must be an integer in 0..' .. MAX_MS} end
    if d > 0 then delays[i] = d end
    local l, m = argv[b + 4], argv[b + 5]
    if l ~= '' and not int(l, 1, MAX_MS) then
      return {-1, 'task ' .. i .. ': lease_ms must be empty or an integer in 1..' .. MAX_MS}
    end
    if m ~= '' and not int(m, 1, MAX_ATTEMPTS) then
      return {-1, 'task ' .. i .. ': max_attempts must be empty or an integer in 1..' .. MAX_ATTEMPTS}
    end
    if #argv[b + 1] > 128 then return {-1, 'task ' .. i .. ': id must be at most 128 bytes'} end
    if argv[b + 1] == '' then server = server + 1 end
  end
end

local t = rcall('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local hdr = header(now)

-- exists[at[k]]: the stored value of field names[k] of tasks (nil when none), for k = 1..count,
-- read with one HMGET per 1000 fields.
local exists = {}
local function lookup(names, at, count)
  for i = 1, count, 1000 do
    local j = math.min(i + 999, count)
    local r = rcall('HMGET', tasks, unpack(names, i, j))
    for k = 1, j - i + 1 do if r[k] then exists[at[i + k - 1]] = r[k] end end
  end
end

-- The existence check, first part: the anchor (the fence, kept at exists[0]) and every caller id.
local fence
if server == n then
  fence = rcall('HGET', tasks, '')
else
  local names, nc, at = {''}, 1, {0}
  for i = 1, n do
    local id = argv[2 + w * (i - 1)]
    if id ~= '' then nc = nc + 1; names[nc] = id; at[nc] = i end
  end
  lookup(names, at, nc)
  fence = exists[0]
end
-- (stored: the anchor's value as read, not written again when unchanged)
local stored = fence
-- fenceMax: while the fence holds, no stored task has an id that seq has not passed, but caller
-- ids up to fenceMax; nil when it does not hold (then it holds again once no task is stored).
local fenceMax
if fence == FENCE0 then
  fenceMax = 0
elseif fence and string.sub(fence, 1, 12) == FENCE_PREFIX then
  fenceMax = tonumber(string.match(fence, '^~relq fence (%d+)~'))
end
if not fenceMax then
  local hlen = rcall('HLEN', tasks)
  if hlen == (fence and 1 or 0) then fenceMax, fence = 0, FENCE0 end
end

-- Candidate ids: caller ids as given, server ids from one HINCRBY.
local ids = {}
local nextId, firstId = 0, 0
-- (Arguments to redis.call are passed as strings: Redis formats a Lua number with %.17g.)
if server > 0 then
  nextId = rcall('HINCRBY', meta, 'seq', server == n and argv[1] or string.format('%d', server)) - server + 1
  firstId = nextId
  local units = nextId % 10
  local tens = (nextId - units) / 10
  local tensText = tens > 0 and string.format('%d', tens) or ''
  for i = 1, n do
    local id = w == 1 and '' or argv[2 + w * (i - 1)]
    if id == '' then
      id = tensText .. DIGITS[units + 1]
      units = units + 1
      if units == 10 then units = 0; tens = tens + 1; tensText = string.format('%d', tens) end
    end
    ids[i] = id
  end
else
  for i = 1, n do ids[i] = argv[2 + w * (i - 1)] end
end

-- Caller ids that a server id could equal (canonical decimals of at most 16 digits) raise the
-- fence's bound; 16 digits may exceed 2^53, where a Lua number rounds: counted as 2^53.
if fenceMax and server < n then
  local callerMax = fenceMax
  local byte, find = string.byte, string.find
  for i = 1, n do
    local id = argv[2 + w * (i - 1)]
    local b = byte(id, 1)
    if b and b >= 49 and b <= 57 and #id <= 16 and not find(id, '%D') then
      local v = #id < 16 and tonumber(id) or 9007199254740992
      if v > callerMax then callerMax = v end
    end
  end
  if callerMax > fenceMax then
    -- (the anchor written below carries the new bound; this call's server ids are checked)
    fence = FENCE_PREFIX .. string.format('%d', callerMax) .. FENCE_PAD
    fenceMax = callerMax
  end
end

-- The existence check, second part: server ids, unless the fence holds for all of them.
if server > 0 and not (fenceMax and fenceMax < nextId) then
  local names, nc, at = {}, 0, {}
  for i = 1, n do
    if w == 1 or argv[2 + w * (i - 1)] == '' then nc = nc + 1; names[nc] = ids[i]; at[nc] = i end
  end
  lookup(names, at, nc)
end

local out, no = {1}, 1
-- Ids met in this batch (caller ids may repeat; server ids are distinct, so a batch of only
-- server ids needs no bookkeeping).
local seen = {}
local track = server < n
-- The per-task reply is built only when it will be returned: not when every id is
-- server-assigned and consecutive (the short reply).
local build = track
-- (the tasks anchor: the fence's value when it holds, else ANCHOR)
local hset, lpush, zadd, st = {'', fenceMax and fence or ANCHOR}, {}, {}, {'', ANCHOR}
local hfirst = hset[2] == stored and 3 or 1
local nh, nl, nz, ns = 2, 0, 0, 2
local inserted = 0
for i = 1, n do
  local b = 1 + w * (i - 1)
  local id = ids[i]
  local ok = not exists[i] and not (track and seen[id])
  if not ok and (w == 1 or argv[b + 1] == '') then
    -- Server id taken (a caller used a numeric id): take the next free one.
    if not build then
      -- The ids are no longer consecutive: the long reply, for the tasks before this one too
      -- (all enqueued under their candidate ids).
      build = true
      for k = 1, i - 1 do out[2 * k] = ids[k]; out[2 * k + 1] = 1 end
    end
    firstId = nil
    for _ = 1, 1000 do
      id = string.format('%d', rcall('HINCRBY', meta, 'seq', 1))
      if not seen[id] and rcall('HEXISTS', tasks, id) == 0 then ok = true; break end
    end
    if not ok then return {-1, 'could not allocate a server id'} end
  end
  -- (Appends use counters: `#t` is a search in Lua 5.1.)
  if build then out[no + 1] = id end
  no = no + 2
  if ok then
    if track then seen[id] = true end
    inserted = inserted + 1
    hset[nh + 1] = id
    hset[nh + 2] = hdr .. argv[b + po]
    nh = nh + 2
    if not delays[i] then
      nl = nl + 1
      lpush[nl] = id
    else
      zadd[nz + 1] = string.format('%d', now + delays[i])
      zadd[nz + 2] = id
      nz = nz + 2
    end
    if w == 5 then
      local l, m = argv[b + 4], argv[b + 5]
      if l ~= '' or m ~= '' then
        st[ns + 1] = id
        st[ns + 2] = '0::' .. m .. ':' .. l
        ns = ns + 2
      end
    end
    if build then out[no] = 1 end
  else
    out[no] = 0 -- (never for a server id: build is set)
  end
end

if inserted > 0 then
  chunked('HSET', tasks, hset, 1000, hfirst)
  if ns > 2 then chunked('HSET', state, st, 1000) end
  if nz > 0 then chunked('ZADD', delayed, zadd, 1000) end
  if nl > 0 then
    -- n <= 1000, so one LPUSH (<= 1000 elements) suffices.
    local len = rcall('LPUSH', pending, unpack(lpush, 1, nl))
    -- pending was empty: wake a sleeping consumer.
    if len == nl and rcall('LLEN', signal) == 0 then rcall('RPUSH', signal, '1') end
  end
  rcall('HINCRBY', meta, 'enqueued', inserted == n and argv[1] or string.format('%d', inserted))
end
-- All ids server-assigned and consecutive (so all enqueued): the short reply.
if server == n and firstId then return {2, firstId, n} end
return out

"""#
    )

    static let extend = LuaScript(
        name: "extend",
        sha1: "d5ab4e65cf9100e173ee360c46d81b93621b9abb",
        keys: ["leases", "tasks", "state", "meta", "groups"],
        readOnly: false,
        source: #"""
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

"""#
    )

    static let inspect = LuaScript(
        name: "inspect",
        sha1: "ac589e583705176609a9974d935098c19e8d1715",
        keys: ["pending", "delayed", "leases", "dead", "tasks", "state", "errors", "working", "groups"],
        readOnly: true,
        source: #"""
#!lua flags=no-writes
-- inspect: where a task is and its data (read-only: run with EVALSHA_RO).
--
-- KEYS: pending delayed leases dead tasks state errors working groups
--   KEYS[1] pending  LIST  (declared for completeness; a task in tasks but in no
--                          ZSET and without a lease is pending: the list is not scanned)
--   KEYS[2] delayed  ZSET  id -> due time ms
--   KEYS[3] leases   ZSET  "id:token" -> lease deadline ms; "token" -> deadline of a lease group
--   KEYS[4] dead     ZSET  id -> time dead-lettered ms
--   KEYS[5] tasks    HASH  id -> header + payload
--   KEYS[6] state    HASH  id -> "attempts::maxAttempts:leaseMs"
--   KEYS[7] errors   HASH  id -> last error
--   KEYS[8] working  ZSET  id -> lease deadline ms (leases of queue layout 1)
--   KEYS[9] groups   HASH  group token -> cmsgpack array of the ids it still leases
-- ARGV[1] id
-- Returns {1, state, attempts, time_ms, enqueued_ms, last_error, payload}
--   state 'pending' | 'delayed' | 'working' | 'dead'; time_ms = due time (delayed),
--   lease deadline (working), dead-lettered time (dead), -1 (pending);
--   last_error '' when none.
--   {-3} not found; {-1, message} invalid argument.
-- Cost: O(1) for a delayed or dead task, else O(leases held) (the lease is found by a scan).

local rcall = redis.call
local pending, delayed, leases, dead, tasks, state, errors, working, groups =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]

-- The lease member of a task and its deadline, or nil: its own member "id:token", else the token
-- of the lease group listing it (the member of the group). Leases are keyed by member and groups
-- by token, so this scans both (ZSCAN matched in Redis, then HSCAN): O(leases held).
local function findLease(leases, groups, id)
  local pattern = string.gsub(id, '[%*%?%[%]\\]', '\\%0') .. ':*'
  local cursor = '0'
  repeat
    local r = rcall('ZSCAN', leases, cursor, 'MATCH', pattern, 'COUNT', '1000')
    cursor = r[1]
    local found = r[2]
    for j = 1, #found, 2 do
      if string.match(found[j], '^(.*):%-?%d+$') == id then return found[j], found[j + 1] end
    end
  until cursor == '0'
  repeat
    local r = rcall('HSCAN', groups, cursor, 'COUNT', '100')
    cursor = r[1]
    local found = r[2]
    for j = 1, #found, 2 do
      for _, gid in ipairs(cmsgpack.unpack(found[j + 1])) do
        if gid == id then return found[j], rcall('ZSCORE', leases, found[j]) end
      end
    end
  until cursor == '0'
  return nil
end

local id = ARGV[1]
if #ARGV ~= 1 or id == '' then return {-1, 'expected one non-empty id'} end

local body = rcall('HGET', tasks, id)
if not body then return {-3} end

local where, at = 'pending', -1
local score = rcall('ZSCORE', delayed, id)
if score then where = 'delayed' else
  score = rcall('ZSCORE', dead, id)
  if score then where = 'dead' else
    score = rcall('ZSCORE', working, id)
    if not score then score = select(2, findLease(leases, groups, id)) end
    if score then where = 'working' end
  end
end
if score then at = tonumber(score) end

local s = rcall('HGET', state, id)
local attempts = 0
if s then attempts = tonumber(string.match(s, '^(%d*):')) or 0
elseif where == 'working' then attempts = 1 end -- a first delivery with the defaults

local a1, a2, a3, a4, a5, a6 = string.byte(body, 2, 7)
local enq = ((((a1 * 256 + a2) * 256 + a3) * 256 + a4) * 256 + a5) * 256 + a6

return {1, where, attempts, at, enq, rcall('HGET', errors, id) or '', string.sub(body, 8)}

"""#
    )

    static let peek = LuaScript(
        name: "peek",
        sha1: "914f9b2ddd5abe2ddfcbe9296295c3a3cc274468",
        keys: ["pending", "tasks", "state"],
        readOnly: true,
        source: #"""
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

"""#
    )

    static let release = LuaScript(
        name: "release",
        sha1: "4f0c5fdefd115bf2a31b88df3d281caf002f514b",
        keys: ["pending", "leases", "tasks", "state", "errors", "meta", "signal", "groups"],
        readOnly: false,
        source: #"""
-- release (ack): finish leased tasks and delete their data.
--
-- KEYS: pending leases tasks state errors meta signal groups
--   KEYS[1] pending  LIST  ready ids (only read: wake-up rule for the working limit)
--   KEYS[2] leases   ZSET  "id:token" -> lease deadline ms; "token" -> deadline of a lease group
--   KEYS[3] tasks    HASH  id -> header + payload
--   KEYS[4] state    HASH  id -> "attempts::maxAttempts:leaseMs"
--   KEYS[5] errors   HASH  id -> last error
--   KEYS[6] meta     HASH  counters released, grouped; setting working_limit
--   KEYS[7] signal   LIST  wake-up token (at most one element)
--   KEYS[8] groups   HASH  group token -> cmsgpack array of the ids it still leases
-- ARGV[1] n: number of (id, token) pairs, 1..1000
-- ARGV[2i], ARGV[2i+1]  id and lease token (decimal, as returned by dequeue)
-- or, the whole-group form (#ARGV = 2): ARGV[1] n, ARGV[2] a lease group's (negative) token:
--   release every task the group leases, which must be exactly n tasks. A consumer that acks
--   all n tasks one group dequeue gave it (those with the shared deadline) names the group,
--   not n pairs; if any of them left the group since (released, requeued, extended or removed
--   on its own, or swept), the group holds fewer than n and nothing changes: {3, k} (k tasks
--   still in the group, 0 when it is gone), and the caller names the pairs instead.
-- Returns {2, n} when all n pairs were released; otherwise {1, st1, st2, ...}, one
-- status per pair:
--    1 released (task data deleted)
--   -2 stale lease: the task exists but is not leased with this token (nothing changed)
--   -3 not found: already released or removed (a retried ack lands here), or released
--      by an earlier pair of this call (a task named twice is released once)
-- {-1, message} on invalid arguments (nothing changed).
-- The fence is the lease member "id:token" itself: a pair releases its task exactly when that
-- member is in leases, or when its token is a lease group's (negative) whose ids list the id.
-- Cost: O(n + size of the groups named) with a constant number of commands per group named.

local rcall = redis.call
local pending, leases, tasks, state, errors, meta, signal, groups =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

local n = int(ARGV[1], 1, 1000)
if not n then return {-1, 'n must be an integer in 1..1000'} end
local whole = #ARGV == 2 and ARGV[2] or nil
if whole then
  if not string.match(whole, '^%-[1-9]%d*$') or #whole > 17 then
    return {-1, 'a whole-group release names a negative group token'}
  end
elseif #ARGV ~= 1 + 2 * n then return {-1, 'expected 1 + 2*n arguments, or n and a group token'} end

-- First a command of the consumer role only (ACL profiles in README.md): another role is
-- refused here, before anything is written. state holds entries only for tasks delivered before
-- or enqueued with overrides (empty but for the anchor in a queue without retries).
local stateLen = rcall('HLEN', state)
local argv = ARGV -- (a local: every ARGV is a global lookup)
-- The released tasks' ids (m of them) and what the tail needs to know about how they were named.
local out, ids, m = {1}, nil, 0
local members, ingroup, taken, hits, named, done, nd = nil, nil, nil, 0, nil, nil, 0
if whole then
  -- The whole group, if it still leases exactly the n tasks it was dequeued with (then none is
  -- left in it: written back below as any emptied group).
  local packed = rcall('HGET', groups, whole)
  local list = packed and cmsgpack.unpack(packed)
  local k = list and #list or 0
  if k ~= n then return {3, k} end
  ids, m, hits, named = list, n, n, {[whole] = {list, nil, 0}}
else
  local find, byte = string.find, string.byte
  -- Pairs whose token is a lease group's (negative: '-' first) and whose id the group lists are
  -- released from the group (ingroup[i]); the others name their lease member. A token never
  -- holds ':' (it is decimal), so "id:token" names one (id, token) only; a pair whose token
  -- holds one names no lease (nil). Only reads happen before every pair is validated.
  -- (named: group token -> {ids, index of id, left}; false: no such group)
  -- (tables sized once from ARGV, which has 1 + 2n values, instead of growing by rehashes; each
  -- slot read is written first)
  local check, nc = {unpack(argv)}, 1
  check[1] = 'NX'
  members = {unpack(argv, 1, n)}
  -- The current token's kind: false = a lease member's token, nil = names no lease (holds ':'),
  -- a table = a lease group. Consecutive pairs usually share a token (a batch), and ARGV strings
  -- are interned, so == is one compare; each string function called costs more than the rest of
  -- a pair's work.
  local prevToken, kind
  for i = 1, n do
    local id, token = argv[2 * i], argv[2 * i + 1]
    if id == '' or token == '' then return {-1, 'pair ' .. i .. ': empty id or token'} end
    if token ~= prevToken then
      prevToken, kind = token, false
      if find(token, ':', 1, true) then
        kind = nil
      elseif byte(token, 1) == 45 then
        if not named then named, ingroup, taken = {}, {}, {} end
        kind = named[token]
        if kind == nil then
          local packed = rcall('HGET', groups, token)
          kind = false
          if packed then
            local list, at = cmsgpack.unpack(packed), {}
            for j = 1, #list do at[list[j]] = j end
            kind = {list, at, #list}
          end
          named[token] = kind
        end
      end
    end
    local j = kind and kind[2][id]
    if j then
      -- (a repeat of this pair finds the id gone and falls to the member check: not found)
      kind[2][id] = nil
      kind[1][j] = false
      kind[3] = kind[3] - 1
      ingroup[i] = true
      hits = hits + 1
      taken[hits] = id
      members[i] = false
    elseif kind ~= nil then
      local member = id .. ':' .. token
      members[i] = member
      check[nc + 1], check[nc + 2], nc = '-1', member, nc + 2
    else
      members[i] = false
    end
  end

  -- Which pairs hold their lease: ZADD NX adds (at score -1, never a deadline) exactly the
  -- members not in leases and counts them; nothing else changes. The usual case, none added,
  -- costs one command; otherwise the added ones are read back and removed again.
  local absent, added = nil, 0
  for i = 2, nc, 1000 do
    added = added + rcall('ZADD', leases, 'NX', unpack(check, i, math.min(i + 999, nc)))
  end
  if added > 0 then
    absent = {}
    local back = rcall('ZRANGEBYSCORE', leases, '-1', '-1')
    rcall('ZREMRANGEBYSCORE', leases, '-1', '-1')
    for j = 1, #back do absent[back[j]] = true end
  end

  if hits == n then
    -- every pair released from a group (a batch acked whole): no status per pair to decide
    ids, m = taken, n
  else
    -- (out: only the pairs not released are marked here, 0; the reply is built below if any)
    done, ids = {unpack(argv, 1, n)}, {unpack(argv, 1, n)}
    for i = 1, n do
      local member = members[i]
      if ingroup and ingroup[i] then
        m = m + 1
        ids[m] = argv[2 * i]
      elseif member and not (absent and absent[member]) then
        m = m + 1
        nd = nd + 1
        done[nd] = member
        ids[m] = argv[2 * i]
      else
        out[i + 1] = 0 -- decided below: stale or not found
      end
    end
  end
end

if m > 0 then
  local wbefore
  local wlimit = tonumber(rcall('HGET', meta, 'working_limit'))
  if wlimit then
    -- leased tasks: the members but the anchor, a group counted by its tasks
    wbefore = rcall('ZCOUNT', leases, '-inf', '(inf')
    local grouped = tonumber(rcall('HGET', meta, 'grouped'))
    if grouped then wbefore = wbefore - rcall('HLEN', groups) + grouped end
  end
  -- Every member in done is in leases, so ZREM removes each: fewer removed than named means a
  -- pair was named twice in this call. Only then are repeats found (the first pair releases,
  -- a repeat is "not found", as a retried ack would be).
  local removed = nd > 0 and rcall('ZREM', leases, unpack(done, 1, nd)) or 0
  if removed < nd then
    local seen, u = {}, 0
    for i = 1, n do
      if out[i + 1] ~= 0 then
        local member = members[i]
        if ingroup and ingroup[i] then u = u + 1; ids[u] = argv[2 * i]
        elseif seen[member] then out[i + 1] = 0 else seen[member] = true; u = u + 1; ids[u] = argv[2 * i] end
      end
    end
    m = u
  end
  -- The groups released from: what they still lease is written back, an emptied one deleted.
  if hits > 0 then
    for token, g in pairs(named) do
      if g then
        local list = g[1]
        local size = #list
        if g[3] < size then
          if g[3] == 0 then
            rcall('ZREM', leases, token)
            rcall('HDEL', groups, token)
          else
            local rest, r = {}, 0
            for j = 1, size do
              if list[j] then r = r + 1; rest[r] = list[j] end
            end
            rcall('HSET', groups, token, cmsgpack.pack(rest))
          end
        end
      end
    end
  end
  -- (hits: the tasks released from groups, each once)
  if hits > 0 then rcall('HINCRBY', meta, 'grouped', string.format('%d', -hits)) end
  rcall('HDEL', tasks, unpack(ids, 1, m))
  -- state and errors hold entries only for tasks delivered before or that failed: empty (but
  -- for the anchor) in a queue without retries, and then not touched.
  if stateLen > 1 or (stateLen == 1 and rcall('HEXISTS', state, '') == 0) then
    rcall('HDEL', state, unpack(ids, 1, m))
  end
  if rcall('HLEN', errors) > 0 then rcall('HDEL', errors, unpack(ids, 1, m)) end
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
      out[i + 1] = rcall('HEXISTS', tasks, argv[2 * i]) == 1 and -2 or -3
    else
      out[i + 1] = 1
    end
  end
end
if m == n then return {2, m} end -- all released: no status per pair
return out

"""#
    )

    static let releaseDequeue = LuaScript(
        name: "release_dequeue",
        sha1: "261a4e22039e8a6aeefe0ca4df575ac5a0360f06",
        keys: ["pending", "delayed", "leases", "tasks", "state", "errors", "meta", "rate", "signal", "groups"],
        readOnly: false,
        source: #"""
-- release_dequeue: release (ack) leased tasks, then lease up to `max` ready tasks, in one call.
-- GENERATED by scripts/compose-lua.sh from release.lua and dequeue.lua: edit those, then run
-- scripts/generate-lua.sh. Each part behaves exactly as its own script called alone, release
-- first (so a slot it frees under a working limit is usable by the dequeue).
--
-- KEYS: pending delayed leases tasks state errors meta rate signal groups
--   (the union of both scripts' keys, canonical order)
-- ARGV[1] max, ARGV[2] default_lease_ms, ARGV[3] default_max_attempts   as for dequeue
-- ARGV[4] n (1..1000), then n pairs id, token, or n and a group token   as for release
-- Returns {1, release_reply, dequeue_reply}: two nested arrays, each exactly what release
-- and dequeue return alone (see their headers), or {-1, message} when the release
-- arguments are invalid (nothing changed, nothing dequeued). A dequeue_reply of -1 (bad
-- dequeue arguments) comes after a release that did happen.

local function release(KEYS, ARGV)
local rcall = redis.call
local pending, leases, tasks, state, errors, meta, signal, groups =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]

local function int(s, lo, hi)
  if type(s) ~= 'string' or #s > 16 or not string.match(s, '^%d+$') then return nil end
  local v = tonumber(s)
  if v < lo or v > hi then return nil end
  return v
end

local n = int(ARGV[1], 1, 1000)
if not n then return {-1, 'n must be an integer in 1..1000'} end
local whole = #ARGV == 2 and ARGV[2] or nil
if whole then
  if not string.match(whole, '^%-[1-9]%d*$') or #whole > 17 then
    return {-1, 'a whole-group release names a negative group token'}
  end
elseif #ARGV ~= 1 + 2 * n then return {-1, 'expected 1 + 2*n arguments, or n and a group token'} end

-- First a command of the consumer role only (ACL profiles in README.md): another role is
-- refused here, before anything is written. state holds entries only for tasks delivered before
-- or enqueued with overrides (empty but for the anchor in a queue without retries).
local stateLen = rcall('HLEN', state)
local argv = ARGV -- (a local: every ARGV is a global lookup)
-- The released tasks' ids (m of them) and what the tail needs to know about how they were named.
local out, ids, m = {1}, nil, 0
local members, ingroup, taken, hits, named, done, nd = nil, nil, nil, 0, nil, nil, 0
if whole then
  -- The whole group, if it still leases exactly the n tasks it was dequeued with (then none is
  -- left in it: written back below as any emptied group).
  local packed = rcall('HGET', groups, whole)
  local list = packed and cmsgpack.unpack(packed)
  local k = list and #list or 0
  if k ~= n then return {3, k} end
  ids, m, hits, named = list, n, n, {[whole] = {list, nil, 0}}
else
  local find, byte = string.find, string.byte
  -- Pairs whose token is a lease group's (negative: '-' first) and whose id the group lists are
  -- released from the group (ingroup[i]); the others name their lease member. A token never
  -- holds ':' (it is decimal), so "id:token" names one (id, token) only; a pair whose token
  -- holds one names no lease (nil). Only reads happen before every pair is validated.
  -- (named: group token -> {ids, index of id, left}; false: no such group)
  -- (tables sized once from ARGV, which has 1 + 2n values, instead of growing by rehashes; each
  -- slot read is written first)
  local check, nc = {unpack(argv)}, 1
  check[1] = 'NX'
  members = {unpack(argv, 1, n)}
  -- The current token's kind: false = a lease member's token, nil = names no lease (holds ':'),
  -- a table = a lease group. Consecutive pairs usually share a token (a batch), and ARGV strings
  -- are interned, so == is one compare; each string function called costs more than the rest of
  -- a pair's work.
  local prevToken, kind
  for i = 1, n do
    local id, token = argv[2 * i], argv[2 * i + 1]
    if id == '' or token == '' then return {-1, 'pair ' .. i .. ': empty id or token'} end
    if token ~= prevToken then
      prevToken, kind = token, false
      if find(token, ':', 1, true) then
        kind = nil
      elseif byte(token, 1) == 45 then
        if not named then named, ingroup, taken = {}, {}, {} end
        kind = named[token]
        if kind == nil then
          local packed = rcall('HGET', groups, token)
          kind = false
          if packed then
            local list, at = cmsgpack.unpack(packed), {}
            for j = 1, #list do at[list[j]] = j end
            kind = {list, at, #list}
          end
          named[token] = kind
        end
      end
    end
    local j = kind and kind[2][id]
    if j then
      -- (a repeat of this pair finds the id gone and falls to the member check: not found)
      kind[2][id] = nil
      kind[1][j] = false
      kind[3] = kind[3] - 1
      ingroup[i] = true
      hits = hits + 1
      taken[hits] = id
      members[i] = false
    elseif kind ~= nil then
      local member = id .. ':' .. token
      members[i] = member
      check[nc + 1], check[nc + 2], nc = '-1', member, nc + 2
    else
      members[i] = false
    end
  end

  -- Which pairs hold their lease: ZADD NX adds (at score -1, never a deadline) exactly the
  -- members not in leases and counts them; nothing else changes. The usual case, none added,
  -- costs one command; otherwise the added ones are read back and removed again.
  local absent, added = nil, 0
  for i = 2, nc, 1000 do
    added = added + rcall('ZADD', leases, 'NX', unpack(check, i, math.min(i + 999, nc)))
  end
  if added > 0 then
    absent = {}
    local back = rcall('ZRANGEBYSCORE', leases, '-1', '-1')
    rcall('ZREMRANGEBYSCORE', leases, '-1', '-1')
    for j = 1, #back do absent[back[j]] = true end
  end

  if hits == n then
    -- every pair released from a group (a batch acked whole): no status per pair to decide
    ids, m = taken, n
  else
    -- (out: only the pairs not released are marked here, 0; the reply is built below if any)
    done, ids = {unpack(argv, 1, n)}, {unpack(argv, 1, n)}
    for i = 1, n do
      local member = members[i]
      if ingroup and ingroup[i] then
        m = m + 1
        ids[m] = argv[2 * i]
      elseif member and not (absent and absent[member]) then
        m = m + 1
        nd = nd + 1
        done[nd] = member
        ids[m] = argv[2 * i]
      else
        out[i + 1] = 0 -- decided below: stale or not found
      end
    end
  end
end

if m > 0 then
  local wbefore
  local wlimit = tonumber(rcall('HGET', meta, 'working_limit'))
  if wlimit then
    -- leased tasks: the members but the anchor, a group counted by its tasks
    wbefore = rcall('ZCOUNT', leases, '-inf', '(inf')
    local grouped = tonumber(rcall('HGET', meta, 'grouped'))
    if grouped then wbefore = wbefore - rcall('HLEN', groups) + grouped end
  end
  -- Every member in done is in leases, so ZREM removes each: fewer removed than named means a
  -- pair was named twice in this call. Only then are repeats found (the first pair releases,
  -- a repeat is "not found", as a retried ack would be).
  local removed = nd > 0 and rcall('ZREM', leases, unpack(done, 1, nd)) or 0
  if removed < nd then
    local seen, u = {}, 0
    for i = 1, n do
      if out[i + 1] ~= 0 then
        local member = members[i]
        if ingroup and ingroup[i] then u = u + 1; ids[u] = argv[2 * i]
        elseif seen[member] then out[i + 1] = 0 else seen[member] = true; u = u + 1; ids[u] = argv[2 * i] end
      end
    end
    m = u
  end
  -- The groups released from: what they still lease is written back, an emptied one deleted.
  if hits > 0 then
    for token, g in pairs(named) do
      if g then
        local list = g[1]
        local size = #list
        if g[3] < size then
          if g[3] == 0 then
            rcall('ZREM', leases, token)
            rcall('HDEL', groups, token)
          else
            local rest, r = {}, 0
            for j = 1, size do
              if list[j] then r = r + 1; rest[r] = list[j] end
            end
            rcall('HSET', groups, token, cmsgpack.pack(rest))
          end
        end
      end
    end
  end
  -- (hits: the tasks released from groups, each once)
  if hits > 0 then rcall('HINCRBY', meta, 'grouped', string.format('%d', -hits)) end
  rcall('HDEL', tasks, unpack(ids, 1, m))
  -- state and errors hold entries only for tasks delivered before or that failed: empty (but
  -- for the anchor) in a queue without retries, and then not touched.
  if stateLen > 1 or (stateLen == 1 and rcall('HEXISTS', state, '') == 0) then
    rcall('HDEL', state, unpack(ids, 1, m))
  end
  if rcall('HLEN', errors) > 0 then rcall('HDEL', errors, unpack(ids, 1, m)) end
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
      out[i + 1] = rcall('HEXISTS', tasks, argv[2 * i]) == 1 and -2 or -3
    else
      out[i + 1] = 1
    end
  end
end
if m == n then return {2, m} end -- all released: no status per pair
return out
end

local function dequeue(KEYS, ARGV)
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
end

-- The release arguments: ARGV[4..]; one unpack when they are at most 1000 values (the protocol's
-- bound per unpack), else copied in a loop (up to 2001 values).
local rargv
if #ARGV <= 1003 then
  rargv = {unpack(ARGV, 4)}
else
  rargv = {}
  for i = 4, #ARGV do rargv[i - 3] = ARGV[i] end
end
local released = release({KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[9], KEYS[10]}, rargv)
if released[1] == -1 then return released end
return {1, released,
  dequeue({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]}, {ARGV[1], ARGV[2], ARGV[3]})}

"""#
    )

    static let remove = LuaScript(
        name: "remove",
        sha1: "2fd302e5b34c771dae168c28d5a3fec14d19cddf",
        keys: ["pending", "delayed", "leases", "dead", "tasks", "state", "errors", "meta", "working", "groups"],
        readOnly: false,
        source: #"""
-- remove: delete a task wherever it is, with all its data.
--
-- KEYS: pending delayed leases dead tasks state errors meta working groups
--   KEYS[1] pending  LIST  ready ids (LREM: O(pending length), the only
--                          script that is O(queue size); only for pending tasks)
--   KEYS[2] delayed  ZSET
--   KEYS[3] leases   ZSET  "id:token", or a lease group's token (a scan: O(leases held); a
--                          consumer holding the lease later gets -3 on ack)
--   KEYS[4] dead     ZSET
--   KEYS[5] tasks    HASH  id -> header + payload
--   KEYS[6] state    HASH
--   KEYS[7] errors   HASH
--   KEYS[8] meta     HASH  counter grouped (tasks held by lease groups)
--   KEYS[9] working  ZSET  leases of queue layout 1 (members are ids)
--   KEYS[10] groups  HASH  group token -> cmsgpack array of the ids it still leases (a task of a
--                          group is taken out of it)
-- ARGV[1] id
-- Returns {1, previous_state} ('pending'|'delayed'|'working'|'dead'),
--   {-3} not found, {-1, message} invalid argument.

local rcall = redis.call
local pending, delayed, leases, dead, tasks, state, errors, meta, working, groups =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]

-- The lease member of a task and its deadline, or nil: its own member "id:token", else the token
-- of the lease group listing it (the member of the group). Leases are keyed by member and groups
-- by token, so this scans both (ZSCAN matched in Redis, then HSCAN): O(leases held).
local function findLease(leases, groups, id)
  local pattern = string.gsub(id, '[%*%?%[%]\\]', '\\%0') .. ':*'
  local cursor = '0'
  repeat
    local r = rcall('ZSCAN', leases, cursor, 'MATCH', pattern, 'COUNT', '1000')
    cursor = r[1]
    local found = r[2]
    for j = 1, #found, 2 do
      if string.match(found[j], '^(.*):%-?%d+$') == id then return found[j], found[j + 1] end
    end
  until cursor == '0'
  repeat
    local r = rcall('HSCAN', groups, cursor, 'COUNT', '100')
    cursor = r[1]
    local found = r[2]
    for j = 1, #found, 2 do
      for _, gid in ipairs(cmsgpack.unpack(found[j + 1])) do
        if gid == id then return found[j], rcall('ZSCORE', leases, found[j]) end
      end
    end
  until cursor == '0'
  return nil
end

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

local id = ARGV[1]
if #ARGV ~= 1 or id == '' then return {-1, 'expected one non-empty id'} end

if rcall('HDEL', tasks, id) == 0 then return {-3} end
local where
if rcall('ZREM', delayed, id) == 1 then where = 'delayed'
elseif rcall('ZREM', dead, id) == 1 then where = 'dead'
elseif rcall('ZREM', working, id) == 1 then where = 'working'
else
  local member = findLease(leases, groups, id)
  if member then
    where = 'working'
    if string.find(member, ':', 1, true) then
      rcall('ZREM', leases, member)
    else
      takeFromGroup(leases, groups, meta, member, id)
    end
  else
    where = 'pending'
    rcall('LREM', pending, 1, id)
  end
end
rcall('HDEL', state, id)
rcall('HDEL', errors, id)
return {1, where}

"""#
    )

    static let requeue = LuaScript(
        name: "requeue",
        sha1: "bdb9840183f4d02d9b6c1c61a0ae999ff9606651",
        keys: ["pending", "delayed", "leases", "dead", "tasks", "state", "errors", "meta", "signal", "groups"],
        readOnly: false,
        source: #"""
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

"""#
    )

    static let stats = LuaScript(
        name: "stats",
        sha1: "5da10969455ae96e2d7ab215c6be5761f19cb876",
        keys: ["pending", "delayed", "leases", "dead", "tasks", "meta", "rate", "working", "groups"],
        readOnly: true,
        source: #"""
#!lua flags=no-writes
-- stats: queue sizes, counters and settings (read-only: run with EVALSHA_RO).
--
-- KEYS: pending delayed leases dead tasks meta rate working groups
--   KEYS[1] pending  LIST    ready ids (rightmost = oldest)
--   KEYS[2] delayed  ZSET
--   KEYS[3] leases   ZSET    one member per leased task, or per lease group
--   KEYS[4] dead     ZSET
--   KEYS[5] tasks    HASH    id -> header + payload (enqueue time of the oldest)
--   KEYS[6] meta     HASH    counters and settings
--   KEYS[7] rate     STRING  current rate-limit window count
--   KEYS[8] working  ZSET    leases of queue layout 1 (counted with the leases)
--   KEYS[9] groups   HASH    one field per lease group (meta grouped: their tasks)
-- No ARGV.
-- Returns {1, name, value, name, value, ...} (pairs; new fields may be appended):
--   pending, delayed, working, dead, enqueued, dequeued, released, requeued,
--   timed_out, dead_lettered, oldest_pending_age_ms (-1 if none), working_limit,
--   rate_limit, rate_window_ms (-1 when unset), paused (0|1), now_ms,
--   rate_window_count (dequeues counted in the current rate window).
-- Cost: O(1).

local rcall = redis.call
local pending, delayed, leases, dead, tasks, meta, rate, working, groups =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]

local t = rcall('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)

local m = rcall('HMGET', meta, 'enqueued', 'dequeued', 'released', 'requeued', 'timed_out',
  'dead_lettered', 'working_limit', 'rate_limit', 'rate_window_ms', 'paused', 'grouped')

local age = -1
local oldest = rcall('LINDEX', pending, -1)
if oldest then
  local body = rcall('HGET', tasks, oldest)
  if body and #body >= 7 then
    local a1, a2, a3, a4, a5, a6 = string.byte(body, 2, 7)
    age = now - (((((a1 * 256 + a2) * 256 + a3) * 256 + a4) * 256 + a5) * 256 + a6)
    if age < 0 then age = 0 end
  end
end

local function num(v, default) return tonumber(v) or default end

return {1,
  'pending', rcall('LLEN', pending),
  'delayed', rcall('ZCARD', delayed),
  -- (not the +inf encoding anchors; a lease group counted by its tasks)
  'working', rcall('ZCOUNT', leases, '-inf', '(inf') + rcall('ZCOUNT', working, '-inf', '(inf')
    - rcall('HLEN', groups) + num(m[11], 0),
  'dead', rcall('ZCARD', dead),
  'enqueued', num(m[1], 0),
  'dequeued', num(m[2], 0),
  'released', num(m[3], 0),
  'requeued', num(m[4], 0),
  'timed_out', num(m[5], 0),
  'dead_lettered', num(m[6], 0),
  'oldest_pending_age_ms', age,
  'working_limit', num(m[7], -1),
  'rate_limit', num(m[8], -1),
  'rate_window_ms', num(m[9], -1),
  'paused', (m[10] == '1') and 1 or 0,
  'now_ms', now,
  'rate_window_count', num(rcall('GET', rate), 0),
}

"""#
    )

    static let sweep = LuaScript(
        name: "sweep",
        sha1: "eb78e757b5d4cd3110e623de7f82aa90ef1b9533",
        keys: ["pending", "delayed", "leases", "dead", "tasks", "state", "errors", "meta", "signal", "working", "groups"],
        readOnly: false,
        source: #"""
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

"""#
    )

    /// Every script, sorted by file name.
    static let all: [LuaScript] = [
        configure,
        deadList,
        deadPurge,
        deadRetry,
        dequeue,
        enqueue,
        extend,
        inspect,
        peek,
        release,
        releaseDequeue,
        remove,
        requeue,
        stats,
        sweep,
    ]
}
