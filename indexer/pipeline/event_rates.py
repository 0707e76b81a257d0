"""Events accepted and applied per second over the last minute, for `GET /v1/status`.

The counters in `stats` only grow, so an operator watching status during an incident had to
poll twice and divide to see whether the pipeline moves and how fast (issue 12 asks status for
rates beside pending, lag and dead letters). Intake and the workers' acknowledgement also add
their counts to a per-10-second bucket (a small hash that expires after two minutes), in the
same Redis transaction or script as the counter itself; status divides the last minute's buckets
and the current one by the time they span. Prometheus users can still take `rate()` of the
`_total` counters in `/metrics`.
"""

from __future__ import annotations

import time
from typing import Any, Final

import redis

from indexer.redis_keys import RedisKeys

BUCKET_SECONDS: Final = 10
WINDOW_BUCKETS: Final = 6  # the rate is over the last minute's complete buckets
TTL_SECONDS: Final = BUCKET_SECONDS * (WINDOW_BUCKETS + 6)
ACCEPTED: Final = "accepted"
APPLIED: Final = "applied"


def bucket_of(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // BUCKET_SECONDS)


def bucket_key(keys: RedisKeys, now: float | None = None) -> str:
    """The bucket the counts of this moment go to."""
    return keys.rate_bucket(bucket_of(now))


def count(pipe: redis.client.Pipeline, keys: RedisKeys, field: str, n: int) -> None:
    if n > 0:
        key = bucket_key(keys)
        pipe.hincrby(key, field, n)
        pipe.expire(key, TTL_SECONDS)


def window_buckets(keys: RedisKeys, at: float) -> list[str]:
    """The buckets `rates` sums at `at`: the last minute's complete ones and the current one."""
    current = bucket_of(at)
    return [keys.rate_bucket(b) for b in range(current - WINDOW_BUCKETS, current + 1)]


def rates(counts: list[list[bytes | None]], at: float) -> dict[str, Any]:
    """From `HMGET <bucket> accepted applied` of each of `window_buckets`, in order: per second
    over the time they span, from the start of the oldest to `at` (60 to 70 s)."""
    accepted = sum(int(a or 0) for a, _ in counts)
    applied = sum(int(b or 0) for _, b in counts)
    window = WINDOW_BUCKETS * BUCKET_SECONDS + (at - bucket_of(at) * BUCKET_SECONDS)
    return {
        "windowSeconds": round(window, 1),
        "acceptedPerSecond": round(accepted / window, 2),
        "appliedPerSecond": round(applied / window, 2),
    }


def read(client: redis.Redis, keys: RedisKeys, now: float | None = None) -> dict[str, Any]:
    at = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    for key in window_buckets(keys, at):
        pipe.hmget(key, [ACCEPTED, APPLIED])
    return rates(pipe.execute(), at)
