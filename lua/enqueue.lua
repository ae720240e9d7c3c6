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
