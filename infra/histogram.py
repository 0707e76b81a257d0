"""Latency histograms with Prometheus' cumulative buckets, kept in a Redis hash (`le:<bound>`,
`sum`, `count`) so that every process of a deployment adds to the same one: the workers' bulk
requests, and each API instance's searches (whose processes first count in memory, then flush).
`/metrics` renders them (indexer/ops/metrics.py)."""

from __future__ import annotations

import bisect
import threading
from typing import Any, Final

import redis

BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LABELS: Final = [*(str(b) for b in BUCKETS), "+Inf"]
# A further field of the bulk histogram's hash: documents the workers wrote.
DOCUMENTS: Final = "documents"
# An instance that is gone stops renewing its histogram; a week later it is gone from Redis too.
FLUSHED_TTL_S: Final = 7 * 86_400


def record(pipe: Any, key: str, seconds: list[float]) -> None:
    """Queue observations on a pipeline (the worker's acknowledgement transaction)."""
    for value in seconds:
        pipe.hincrby(key, f"le:{BUCKETS[bisect.bisect_left(BUCKETS, value)] if value <= BUCKETS[-1] else '+Inf'}", 1)
        pipe.hincrbyfloat(key, "sum", value)
        pipe.hincrby(key, "count", 1)


class Histogram:
    """A thread-safe in-process histogram, flushed to Redis now and then."""

    def __init__(self) -> None:
        self._counts = [0] * (len(BUCKETS) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect.bisect_left(BUCKETS, value)] += 1
            self._sum += value

    def drain(self) -> tuple[list[int], float]:
        """What was observed since the last drain, and start again from zero."""
        with self._lock:
            counts, total = self._counts, self._sum
            self._counts, self._sum = [0] * (len(BUCKETS) + 1), 0.0
            return counts, total

    def merge(self, counts: list[int], total: float) -> None:
        with self._lock:
            self._counts = [a + b for a, b in zip(self._counts, counts, strict=True)]
            self._sum += total


def flush(client: redis.Redis, key: str, histogram: Histogram) -> None:
    """Add this process's new observations to the hash at `key`. Nothing is lost when Redis is
    away: the observations wait for the next flush."""
    counts, total = histogram.drain()
    if not any(counts):
        return
    pipe = client.pipeline(transaction=True)
    for label, count in zip(LABELS, counts, strict=True):
        if count:
            pipe.hincrby(key, f"le:{label}", count)
    pipe.hincrbyfloat(key, "sum", total)
    pipe.expire(key, FLUSHED_TTL_S)
    try:
        pipe.execute()
    except redis.RedisError:
        histogram.merge(counts, total)
        raise


def read_hash(client: redis.Redis, key: str) -> dict[str, str]:
    raw: Any = client.hgetall(key)
    return {k.decode(): v.decode() for k, v in raw.items()}


def buckets(got: dict[str, str]) -> tuple[list[int], float]:
    """Per-bucket counts and the sum of a histogram read with `read_hash`."""
    return [int(got.get(f"le:{label}", 0)) for label in LABELS], float(got.get("sum", 0))
