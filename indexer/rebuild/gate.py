"""How stream workers and a rebuild share the index without losing a write.

While a rebuild copies `vN` into `vN+1`, workers keep writing to `vN` and, *after* each write,
add the listing ids to a dirty set if a rebuild is running. Checking after the write closes the
race: a write either happened before the rebuild opened (the copy sees it) or is marked dirty
(the rebuild copies it again). For the alias swap the rebuild closes the gate: no worker
starts a batch, the ones in flight finish, the rebuild copies the last dirty listings and swaps
with no writer running. Writes pause for that moment (events wait in the stream); reads never do.

Every key expires, so a rebuild or worker that dies cannot hold the others up.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import redis

from indexer.redis_keys import RedisKeys

STATE_TTL_MS = 120_000
INFLIGHT_TTL_MS = 120_000

_ENTER = """
if redis.call('HGET', KEYS[1], 'phase') == 'swap' then return 0 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return 1
"""
_MARK = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SADD', KEYS[2], unpack(ARGV))
  return 1
end
return 0
"""


class WorkerGate:
    def __init__(self, client: redis.Redis, keys: RedisKeys, consumer: str) -> None:
        self.client = client
        self.keys = keys
        self.consumer = consumer
        self._enter = client.register_script(_ENTER)
        self._mark = client.register_script(_MARK)

    def enter(self) -> bool:
        """False while a rebuild swaps aliases: the caller waits a moment and tries again."""
        return bool(
            self._enter(keys=[self.keys.rebuild_state, self.keys.inflight(self.consumer)], args=[INFLIGHT_TTL_MS])
        )

    def still_here(self) -> None:
        """Long retries keep the in-flight mark alive."""
        self.client.pexpire(self.keys.inflight(self.consumer), INFLIGHT_TTL_MS)

    def leave(self) -> None:
        self.client.delete(self.keys.inflight(self.consumer))

    def written(self, listing_ids: Iterable[str]) -> None:
        ids = list(listing_ids)
        for start in range(0, len(ids), 1000):
            self._mark(keys=[self.keys.rebuild_state, self.keys.rebuild_dirty], args=ids[start : start + 1000])


class RebuildGate:
    def __init__(self, client: redis.Redis, keys: RedisKeys, job_id: str) -> None:
        self.client = client
        self.keys = keys
        self.job_id = job_id

    def open(self, target: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.keys.rebuild_dirty)
        pipe.hset(self.keys.rebuild_state, mapping={"target": target, "phase": "copy", "job": self.job_id})
        pipe.pexpire(self.keys.rebuild_state, STATE_TTL_MS)
        pipe.execute()

    def heartbeat(self) -> None:
        self.client.pexpire(self.keys.rebuild_state, STATE_TTL_MS)
        self.client.pexpire(self.keys.rebuild_dirty, STATE_TTL_MS)

    def pop_dirty(self, count: int = 1000) -> list[str]:
        found = self.client.spop(self.keys.rebuild_dirty, count)
        return [v.decode() if isinstance(v, bytes) else str(v) for v in (found or [])]

    def dirty_count(self) -> int:
        return int(self.client.scard(self.keys.rebuild_dirty))

    def close_for_swap(self, timeout: float) -> bool:
        """Stop new batches and wait until none is in flight; False (gate reopened) on timeout."""
        self.client.hset(self.keys.rebuild_state, "phase", "swap")
        self.heartbeat()
        deadline = time.monotonic() + timeout
        while any(True for _ in self.client.scan_iter(match=self.keys.inflight_pattern, count=100)):
            if time.monotonic() > deadline:
                self.client.hset(self.keys.rebuild_state, "phase", "copy")
                return False
            time.sleep(0.01)
        return True

    def finish(self) -> None:
        self.client.delete(self.keys.rebuild_state, self.keys.rebuild_dirty)
