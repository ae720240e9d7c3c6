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
