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
