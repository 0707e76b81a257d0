"""Crash recovery at full speed: a worker process SIGKILLed with thousands of entries pending
is caught up as fast as a normal ingest, whether it restarts under its name or a sibling takes
over. Times are coarse bounds against a no-fault ingest measured in the same test; the precise
figures come from `bench/recovery.py`."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from indexer.pipeline.worker import HANDED_BACK_PAUSE_SECONDS
from listing_search.runner import new_worker, start_worker
from tests.support.bulk_proxy import bulk_proxy
from tests.support.events import listing_event, new_id
from tests.support.processes import crash, stop
from tests.support.service import Service, running_service, worker_process

LISTINGS = 600
EVENTS = 6000  # 10 per listing: one read of 1,000 entries is far from all of them
LATE_EVENTS = 2000  # sent after the kill: new entries behind the pending ones
PENDING_AT_KILL = 5000


def events_for(listings: list[str], first: int, count: int) -> list[dict[str, Any]]:
    out = []
    for seq in range(first, first + count):
        lid = listings[(seq * 7919) % len(listings)]
        kind = "listing/created" if seq <= len(listings) else "listing/updated"
        out.append(listing_event(seq, lid, event_type=kind, title=f"v{seq}", price=seq))
    return out


def send_all(svc: Service, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 1000):
        svc.send(events[i : i + 1000])


def no_fault_seconds(engine_url: str, redis_url: str) -> float:
    """The same ingest with nothing going wrong: worker start to all searchable."""
    listings = [new_id() for _ in range(LISTINGS)]
    with running_service(engine_url, redis_url, workers=0) as svc:
        send_all(svc, events_for(listings, 1, EVENTS + LATE_EVENTS))
        began = time.monotonic()
        proc = worker_process(svc, engine_url, "steady")
        try:
            svc.wait_searchable(timeout=300)
        finally:
            stop(proc)
        return time.monotonic() - began


def pending_of(svc: Service, consumer: str) -> int:
    keys = svc.services.keys
    try:
        rows: Any = svc.services.redis.xinfo_consumers(keys.events, keys.group)
    except redis.ResponseError:
        return 0  # no worker has made the group yet
    for row in rows:
        if row["name"] in (consumer, consumer.encode()):
            return int(row["pending"])
    return 0


def kill_holding(svc: Service, engine_url: str, name: str, proxy_url: str) -> None:
    """Start a worker whose bulk requests are held by a proxy, and SIGKILL it once it holds
    at least PENDING_AT_KILL delivered, unacknowledged entries."""
    proc = worker_process(svc, proxy_url, name)
    try:
        deadline = time.monotonic() + 120
        while pending_of(svc, name) < PENDING_AT_KILL:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, f"the worker never held {PENDING_AT_KILL} entries"
            time.sleep(0.01)
        crash(proc)
    finally:
        if proc.poll() is None:
            crash(proc)
    assert svc.status()["events"]["applied"] < EVENTS


def check_all_applied(svc: Service, listings: list[str]) -> None:
    """Every event applied once, none dead, and each listing shows its newest title."""
    status = svc.status()
    total = EVENTS + LATE_EVENTS
    assert status["events"]["applied"] == status["events"]["accepted"] == total, status
    assert status["lastSequenceId"] == total and status["deadLetters"] == 0, status
    want: dict[str, str] = {}
    for ev in events_for(listings, 1, total):  # in sequenceId order: the last one wins
        want[ev["attributes"]["resourceId"]] = ev["attributes"]["resource"]["attributes"]["title"]
    shown: dict[str, str] = {}
    for page in range(1, LISTINGS // 100 + 2):
        for item in svc.query(perPage=100, page=page, **{"fields.listing": "title"})["data"]:
            shown[item["id"]] = item["attributes"]["title"]
    assert shown == want


@pytest.mark.parametrize("successor", ["same name", "sibling"])
def test_a_killed_worker_is_caught_up_at_full_speed(engine_url: str, redis_url: str, successor: str) -> None:
    baseline = no_fault_seconds(engine_url, redis_url)
    claim_idle_ms = 60_000 if successor == "same name" else 3_000
    listings = [new_id() for _ in range(LISTINGS)]
    events = events_for(listings, 1, EVENTS + LATE_EVENTS)
    with running_service(engine_url, redis_url, workers=0) as svc, bulk_proxy(engine_url, delay=30) as (proxy, url):
        send_all(svc, events[:EVENTS])
        kill_holding(svc, engine_url, "doomed", url)
        proxy.delay = 0  # the held bulk may still land: versions make that harmless
        send_all(svc, events[EVENTS:])
        began = time.monotonic()
        name = "doomed" if successor == "same name" else "sibling"
        # The default claim idle (60 s) for a restart: it must not wait for any claim at all.
        proc = worker_process(
            svc,
            engine_url,
            name,
            LISTING_SEARCH_CLAIM_IDLE_MS=str(claim_idle_ms),
            LISTING_SEARCH_LOCK_TTL_MS=str(claim_idle_ms),
        )
        try:
            svc.wait_searchable(timeout=300)
            caught_up = time.monotonic() - began
        finally:
            stop(proc)
        check_all_applied(svc, listings)
    allowed = 3 * baseline + 10 + (claim_idle_ms / 1000 if successor == "sibling" else 0)
    print(f"\n{successor}: caught up in {caught_up:.1f}s; no-fault ingest {baseline:.1f}s; bound {allowed:.1f}s")
    assert caught_up < allowed


def test_claims_go_on_while_they_come_back_full(engine_url: str, redis_url: str) -> None:
    """A dead worker's backlog is claimed batch after batch, not one batch per check interval."""
    with running_service(engine_url, redis_url, workers=0, batch_size=500, claim_idle_ms=200) as svc:
        base = svc.services
        listings = [new_id() for _ in range(50)]
        send_all(svc, events_for(listings, 1, 2600))
        worker = new_worker(base, consumer="alive")
        got: Any = base.redis.xreadgroup(base.keys.group, "dead", {base.keys.events: ">"}, count=10_000)
        assert len(got[0][1]) == 2600
        time.sleep(0.3)
        sizes = [len(worker._claim_stale()) for _ in range(7)]
        # Five full claims and the rest, back to back; then the sweep is over and the next check
        # waits for its interval.
        assert sizes == [500, 500, 500, 500, 500, 100, 0], sizes
        assert pending_of(svc, "alive") == 2600 and pending_of(svc, "dead") == 0


def test_entries_of_a_listing_locked_elsewhere_wait_without_spinning(engine_url: str, redis_url: str) -> None:
    """Entries whose listing another worker (or a dead one, until its lock expires) holds go back
    to the stream's tail; the worker pauses before reading them again instead of looping
    thousands of times a second."""
    with running_service(engine_url, redis_url, workers=0) as svc:
        base = svc.services
        lid = new_id()
        lock = base.keys.listing_lock(lid)
        base.redis.set(lock, "0123456789abcdef@elsewhere", px=2000)
        svc.send(events_for([lid], 1, 5))
        added_before = int(base.redis.xinfo_stream(base.keys.events)["entries-added"])
        worker = start_worker(base, consumer="patient")
        try:
            svc.wait_searchable(timeout=30)
        finally:
            worker.stop()
        requeued = int(base.redis.xinfo_stream(base.keys.events)["entries-added"]) - added_before
        assert base.redis.get(lock) is None
        assert svc.query(ids=lid)["data"][0]["attributes"]["title"] == "v5"
    # About 2 s of waiting at one try per 50 ms pause: 5 entries each time.
    assert requeued <= 5 * 2.5 / HANDED_BACK_PAUSE_SECONDS, requeued
