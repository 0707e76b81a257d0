"""Redis key names of the indexing side (stream, counters, links, rebuild, sync, jobs), all under
one prefix so deployments and test runs never collide. The API's own keys (token secret, rate
limit, query histogram) are `search_api.redis_keys`."""

from __future__ import annotations

from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    @property
    def events(self) -> str:
        """The intake stream. Entries are deleted once settled, so its length is the backlog."""
        return f"{self.prefix}events"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}dead-letters"

    @property
    def stats(self) -> str:
        return f"{self.prefix}stats"

    def rate_bucket(self, bucket: int) -> str:
        """Hash: events accepted and applied in one 10-second bucket (indexer/pipeline/event_rates.py)."""
        return f"{self.prefix}stats:rate:{bucket}"

    @property
    def links(self) -> str:
        """Hash: transaction id and booking id -> listing id (indexer/pipeline/booking_links.py)."""
        return f"{self.prefix}links"

    @property
    def waiting(self) -> str:
        """Sorted set: key (transaction or booking id) of bookings waiting for a link -> since (ms)."""
        return f"{self.prefix}waiting"

    @property
    def wait_prefix(self) -> str:
        """`wait:<key>`: a list of the stream payloads of the bookings waiting under that key."""
        return f"{self.prefix}wait:"

    @property
    def rebuild_state(self) -> str:
        """Hash {target, phase, job} while a rebuild runs; expires if the rebuild dies."""
        return f"{self.prefix}rebuild:state"

    @property
    def rebuild_dirty(self) -> str:
        """Listing ids written to the old index while a rebuild copies it."""
        return f"{self.prefix}rebuild:dirty"

    @property
    def rebuild_lock(self) -> str:
        return f"{self.prefix}rebuild:lock"

    def listing_lock(self, listing_id: str) -> str:
        """Held by the worker that is reading, merging and writing this listing's document."""
        return f"{self.prefix}lock:{listing_id}"

    def inflight(self, consumer: str) -> str:
        return f"{self.prefix}inflight:{consumer}"

    @property
    def inflight_pattern(self) -> str:
        return f"{self.prefix}inflight:*"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    @property
    def current_rebuild(self) -> str:
        return f"{self.prefix}rebuild:current"

    @property
    def rebuild_wanted(self) -> str:
        """The newest registry generation a caller asked the current rebuild to reflect."""
        return f"{self.prefix}rebuild:wanted"

    @property
    def resync_wanted(self) -> str:
        """Set when a full re-sync from the Integration API is asked of the current rebuild."""
        return f"{self.prefix}rebuild:resync"

    @property
    def sync(self) -> str:
        """Hash: the Integration API checkpoint (sequenceId or createdAtStart, polledAt) and state."""
        return f"{self.prefix}sync"

    @property
    def sync_lock(self) -> str:
        return f"{self.prefix}sync:lock"

    group: str = "indexer"

    @property
    def bulk_metrics(self) -> str:
        """Hash: the workers' `_bulk` latency histogram and documents written (infra/histogram.py)."""
        return f"{self.prefix}metrics:bulk"


def drop_prefixed(client: redis.Redis, prefix: str) -> int:
    """Delete every key under `prefix` (a whole deployment's state); returns how many."""
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    return len(keys)
