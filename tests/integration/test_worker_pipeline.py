"""The worker prepares its next batch while bulk requests are in flight (`bulk_in_flight`),
and never reads a listing's document before the write in flight for it has settled."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from infra.clients import opensearch_client
from listing_search.runner import start_worker
from tests.support.bulk_proxy import BulkProxy, bulk_proxy
from tests.support.events import history, listing_event, new_id
from tests.support.service import Service, contents, in_order_contents, running_service


@contextmanager
def backlog_through_proxy(
    engine_url: str,
    redis_url: str,
    events: list[dict[str, Any]],
    *,
    delay: float,
    fail: set[int] | None = None,
    **overrides: Any,
) -> Iterator[tuple[Service, BulkProxy, dict[str, Any]]]:
    """The whole backlog is queued first, then one worker drains it through the bulk proxy."""
    with (
        bulk_proxy(engine_url, delay=delay, fail=fail) as (proxy, url),
        running_service(engine_url, redis_url, workers=0, **overrides) as svc,
    ):
        for start in range(0, len(events), 500):
            svc.send(events[start : start + 500])
        slow = dataclasses.replace(svc.services, engine=opensearch_client(url))
        worker = start_worker(slow, consumer="pipelined")
        try:
            status = svc.wait_searchable(timeout=120)
        finally:
            worker.stop()
        locks = list(svc.services.redis.scan_iter(match=svc.services.keys.listing_lock("*")))
        assert locks == [], "every listing lock is released"
        yield svc, proxy, status


def created_then_updated(listings: int) -> list[dict[str, Any]]:
    ids = [new_id() for _ in range(listings)]
    created = [listing_event(n + 1, lid, event_type="listing/created", title="first") for n, lid in enumerate(ids)]
    updated = [listing_event(listings + n + 1, lid, title=f"second {lid}") for n, lid in enumerate(ids)]
    return created + updated


@pytest.mark.parametrize("in_flight", [1, 3])
def test_bulk_requests_overlap_up_to_the_setting_and_nothing_is_lost(
    engine_url: str, redis_url: str, in_flight: int
) -> None:
    events = created_then_updated(400)
    with backlog_through_proxy(engine_url, redis_url, events, delay=0.3, batch_size=50, bulk_in_flight=in_flight) as (
        svc,
        proxy,
        status,
    ):
        got = contents(svc)
    assert proxy.max_in_flight == in_flight, proxy.bulks
    assert status["events"]["applied"] == status["events"]["accepted"] == 800
    assert status["deadLetters"] == 0
    assert len(got) == 400
    assert all(doc["title"] == f"second {lid}" for lid, doc in got.items())


def test_batches_sharing_listings_equal_in_order_application(engine_url: str, redis_url: str) -> None:
    """Six listings, 990 events, duplicates and any order: every batch shares listings with the
    batches in flight before it, whose writes must settle before those documents are read again."""
    rng = random.Random(91)
    events = history(rng)
    messy = events + rng.sample(events, 90)
    rng.shuffle(messy)
    with backlog_through_proxy(engine_url, redis_url, messy, delay=0.05, batch_size=10, bulk_in_flight=3) as (
        svc,
        proxy,
        status,
    ):
        got = contents(svc)
    assert status["events"]["applied"] == status["events"]["accepted"] == len(messy)
    want = in_order_contents(engine_url, redis_url, events)
    assert len(want) == 6 and got == want
    assert proxy.bulks > 10  # many batches, not one


def test_a_failed_bulk_among_several_in_flight_loses_nothing(engine_url: str, redis_url: str) -> None:
    """The second bulk is answered 503 while others are in flight: they settle, the failed one's
    entries are retried, nothing is dead-lettered or acknowledged unwritten."""
    events = created_then_updated(300)
    with backlog_through_proxy(
        engine_url,
        redis_url,
        events,
        delay=0.2,
        fail={2, 5},
        batch_size=50,
        bulk_in_flight=3,
        retry_max_seconds=0.5,
    ) as (svc, proxy, status):
        got = contents(svc)
    assert proxy.max_in_flight == 3
    assert status["events"]["applied"] == status["events"]["accepted"] == 600
    assert status["deadLetters"] == 0 and status["lastSequenceId"] == 600
    assert len(got) == 300 and all(doc["title"] == f"second {lid}" for lid, doc in got.items())
