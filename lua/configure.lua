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
