-- extend: push back the lease deadline of a leased task (heartbeat).
--
-- KEYS: working tasks state
--   KEYS[1] working  ZSET  id -> lease deadline ms
--   KEYS[2] tasks    HASH  id -> header + payload (only to tell stale from not found)
--   KEYS[3] state    HASH  id -> "attempts:token:maxAttempts:leaseMs"
-- ARGV[1] id
-- ARGV[2] token     lease token from dequeue
-- ARGV[3] lease_ms  integer ms > 0; '' = the lease stored in state at delivery
-- Returns
--   {1, deadline_ms}  new deadline = server now + lease_ms
--   {-2}  stale lease: task exists but not leased with this token (nothing changed)
--   {-3}  not found (nothing changed)
--   {-1, message} invalid argument (nothing changed)

local rcall = redis.call
local working, tasks, state = KEYS[1], KEYS[2], KEYS[3]

local MAX_MS = 3153600000000 -- 100 years

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

local s = rcall('HGET', state, id)
local tok, l
if s then tok, l = string.match(s, '^%d*:(%d*):%d*:(%d*)$') end
if not tok or tok == '' or tok ~= token or not rcall('ZSCORE', working, id) then
  if rcall('HEXISTS', tasks, id) == 1 then return {-2} end
  return {-3}
end
lease = lease or tonumber(l)
if not lease then return {-1, 'no lease_ms given and none stored'} end

local t = rcall('TIME')
local deadline = t[1] * 1000 + math.floor(t[2] / 1000) + lease
rcall('ZADD', working, 'XX', string.format('%d', deadline), id) -- a string: Redis formats numbers with %.17g
return {1, deadline}
