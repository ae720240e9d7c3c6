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
