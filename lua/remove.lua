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
