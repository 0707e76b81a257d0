"""The worker's Lua scripts: acknowledging a settled batch, and the per-listing locks.

Each runs atomically in Redis. Field names come from `stats`, `event_rates` and the stream entry
module, never spelled here.
"""

from __future__ import annotations

from typing import Final

from indexer.pipeline import event_rates, stats

# Acknowledge, delete and count settled entries (less refresh markers and entries handed back),
# and raise lastSequenceId, atomically.
# KEYS: the stream, the stats hash, this moment's bucket of event_rates.
# ARGV: the group, the batch's newest sequenceId (or ''), how many entries were not events, ids...
ACK_LUA: Final = f"""
local n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 4))
redis.call('XDEL', KEYS[1], unpack(ARGV, 4))
local applied = math.max(n - tonumber(ARGV[3]), 0)
redis.call('HINCRBY', KEYS[2], '{stats.APPLIED}', applied)
if applied > 0 then
  redis.call('HINCRBY', KEYS[3], '{event_rates.APPLIED}', applied)
  redis.call('EXPIRE', KEYS[3], {event_rates.TTL_SECONDS})
end
if ARGV[2] ~= '' then
  local cur = redis.call('HGET', KEYS[2], '{stats.LAST_SEQ}')
  if cur == false or tonumber(ARGV[2]) > tonumber(cur) then
    redis.call('HSET', KEYS[2], '{stats.LAST_SEQ}', ARGV[2])
  end
end
return n
"""

# Per-listing locks: two workers never read-merge-write the same document at once, so neither
# can overwrite the other's merge (external versions alone cannot tell two writes of the same
# version apart). Returns the positions of the locks taken.
# A lock's value is `<run token>@<consumer name>`. A lock held under this consumer name by another
# run is one that an earlier run of this worker left when it died: its pending entries are now
# ours (the stream's per-consumer history), so its locks are ours too. Without that, a restarted
# worker would hand every listing of its predecessor's last batches back to the stream's tail
# and wait up to lock_ttl_ms for them. (Two live processes must never share a name: they would
# share one pending list as well.)
LOCK_LUA: Final = """
local taken = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    table.insert(taken, i)
  else
    local cur = redis.call('GET', key)
    if cur and cur ~= ARGV[1] and string.sub(cur, ARGV[3] + 1) == ARGV[4] then
      redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
      table.insert(taken, i)
    end
  end
end
return taken
"""
UNLOCK_LUA: Final = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 1
"""
