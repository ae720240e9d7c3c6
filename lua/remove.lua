-- remove: delete a task wherever it is, with all its data.
--
-- KEYS: pending delayed working dead tasks state errors
--   KEYS[1] pending  LIST  ready ids (LREM: O(pending length), the only
--                          script that is O(queue size); only for pending tasks)
--   KEYS[2] delayed  ZSET
--   KEYS[3] working  ZSET  (a consumer holding the lease later gets -3 on ack)
--   KEYS[4] dead     ZSET
--   KEYS[5] tasks    HASH  id -> header + payload
--   KEYS[6] state    HASH
--   KEYS[7] errors   HASH
-- ARGV[1] id
-- Returns {1, previous_state} ('pending'|'delayed'|'working'|'dead'),
--   {-3} not found, {-1, message} invalid argument.

local rcall = redis.call
local pending, delayed, working, dead, tasks, state, errors =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]

local id = ARGV[1]
if #ARGV ~= 1 or id == '' then return {-1, 'expected one non-empty id'} end

if rcall('HDEL', tasks, id) == 0 then return {-3} end
local where
if rcall('ZREM', working, id) == 1 then where = 'working'
elseif rcall('ZREM', delayed, id) == 1 then where = 'delayed'
elseif rcall('ZREM', dead, id) == 1 then where = 'dead'
else
  where = 'pending'
  rcall('LREM', pending, 1, id)
end
rcall('HDEL', state, id)
rcall('HDEL', errors, id)
return {1, where}
