"""Leases (the sync poll's, the rebuild's) against the real Redis: held while the holder lives, gone soon after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from indexer.jobs.lease import Lease


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    yield r
    for key in r.scan_iter(match="lstest:lease:*"):
        r.delete(key)
    r.close()


def new_key() -> str:
    return f"lstest:lease:{uuid.uuid4().hex[:10]}"


def test_a_lease_outlives_its_ttl_while_held_and_refuses_a_second_holder(client: redis.Redis) -> None:
    key = new_key()
    with Lease(client, key, 300) as held:
        assert held
        time.sleep(1.0)  # three TTLs: only renewals keep it
        with Lease(client, key, 300) as second:
            assert not second
        assert client.exists(key)
    assert not client.exists(key)  # released at once, not left to expire


def test_a_holder_killed_mid_work_frees_the_lease_within_its_ttl(client: redis.Redis, redis_url: str) -> None:
    key = new_key()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, redis\n"
            "from indexer.jobs.lease import Lease\n"
            "lease = Lease(redis.Redis.from_url(sys.argv[1]), sys.argv[2], 1000)\n"
            "assert lease.__enter__()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
            redis_url,
            key,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        time.sleep(1.5)
        assert client.exists(key)  # renewed past its 1 s TTL while the process lives
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        killed = time.monotonic()
        while client.exists(key):
            assert time.monotonic() - killed < 2.0, "a dead holder's lease outlived its TTL"
            time.sleep(0.05)
        with Lease(client, key, 1000) as held:
            assert held
    finally:
        holder.kill()
        holder.wait(10)


def test_a_lease_taken_over_after_expiry_is_reported_lost_and_left_to_its_new_holder(client: redis.Redis) -> None:
    key = new_key()
    lease = Lease(client, key, 600, renew_every_s=0.05)
    with lease as held:
        assert held
        client.set(key, "someone-else")  # as if this holder had stalled past its TTL
        deadline = time.monotonic() + 2
        while not lease.lost:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert client.get(key) == b"someone-else"


def test_a_job_redelivered_takes_its_own_lease_back_and_no_other_job_can(client: redis.Redis) -> None:
    """The rebuild's lease carries its job id: the same job, redelivered after its process died,
    carries on at once; a different job is refused until the lease expires."""
    key = new_key()
    client.set(key, "job-1", px=5000)  # what a killed holder leaves behind
    with Lease(client, key, 1000, token="job-2") as other:
        assert not other
    with Lease(client, key, 1000, token="job-1") as again:
        assert again and client.pttl(key) <= 1000  # now its own lease, on its own TTL
    assert not client.exists(key)
