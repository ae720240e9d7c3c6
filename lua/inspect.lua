#!lua flags=no-writes
-- inspect: where a task is and its data (read-only: run with EVALSHA_RO).
--
-- KEYS: pending delayed working dead tasks state errors
--   KEYS[1] pending  LIST  (declared for completeness; a task in tasks but in no
--                          ZSET is pending, so the list is not scanned)
--   KEYS[2] delayed  ZSET  id -> due time ms
--   KEYS[3] working  ZSET  id -> lease deadline ms
--   KEYS[4] dead     ZSET  id -> time dead-lettered ms
--   KEYS[5] tasks    HASH  id -> header + payload
--   KEYS[6] state    HASH  id -> "attempts:token:maxAttempts:leaseMs"
--   KEYS[7] errors   HASH  id -> last error
-- ARGV[1] id
-- Returns {1, state, attempts, time_ms, enqueued_ms, last_error, payload}
--   state 'pending' | 'delayed' | 'working' | 'dead'; time_ms = due time (delayed),
--   lease deadline (working), dead-lettered time (dead), -1 (pending);
--   last_error '' when none.
--   {-3} not found; {-1, message} invalid argument.
-- Cost: O(1).

local rcall = redis.call
local pending, delayed, working, dead, tasks, state, errors =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]

local id = ARGV[1]
if #ARGV ~= 1 or id == '' then return {-1, 'expected one non-empty id'} end

local body = rcall('HGET', tasks, id)
if not body then return {-3} end

local where, at = 'pending', -1
local score = rcall('ZSCORE', working, id)
if score then where = 'working' else
  score = rcall('ZSCORE', delayed, id)
  if score then where = 'delayed' else
    score = rcall('ZSCORE', dead, id)
    if score then where = 'dead' end
  end
end
if score then at = tonumber(score) end

local s = rcall('HGET', state, id)
local attempts = 0
if s then attempts = tonumber(string.match(s, '^(%d*):')) or 0 end

local a1, a2, a3, a4, a5, a6 = string.byte(body, 2, 7)
local enq = ((((a1 * 256 + a2) * 256 + a3) * 256 + a4) * 256 + a5) * 256 + a6

return {1, where, attempts, at, enq, rcall('HGET', errors, id) or '', string.sub(body, 8)}
