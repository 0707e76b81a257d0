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


def read(client: redis.Redis, keys: RedisKeys, now: float | None = None) -> dict[str, Any]:
    """Per second over the last minute's complete buckets and the current one so far: the
    window runs from the start of the oldest bucket to now (60 to 70 s)."""
    at = time.time() if now is None else now
    current = bucket_of(at)
    pipe = client.pipeline(transaction=False)
    for b in range(current - WINDOW_BUCKETS, current + 1):
        pipe.hmget(keys.rate_bucket(b), [ACCEPTED, APPLIED])
    sums = {ACCEPTED: 0, APPLIED: 0}
    for accepted, applied in pipe.execute():
        sums[ACCEPTED] += int(accepted or 0)
        sums[APPLIED] += int(applied or 0)
    window = WINDOW_BUCKETS * BUCKET_SECONDS + (at - current * BUCKET_SECONDS)
    return {
        "windowSeconds": round(window, 1),
        "acceptedPerSecond": round(sums[ACCEPTED] / window, 2),
        "appliedPerSecond": round(sums[APPLIED] / window, 2),
    }
