"""At-least-once, out-of-order delivery converges on the in-order result."""

from __future__ import annotations

import random
from typing import Any

from opensearchpy import helpers

from tests.support.events import exception_event, listing_event, new_id
from tests.support.service import Service, running_service

STATES = ["published", "published", "published", "draft", "pendingApproval", "closed"]


def event_history(rng: random.Random, n_events: int = 300, n_listings: int = 40) -> list[dict[str, Any]]:
    """A plausible history: each listing is created, edited, opened and closed, some deleted."""
    listings = [new_id() for _ in range(n_listings)]
    created: set[str] = set()
    deleted: set[str] = set()
    exceptions: dict[str, list[str]] = {lid: [] for lid in listings}
    events: list[dict[str, Any]] = []
    seq = 1000
    while len(events) < n_events:
        lid = rng.choice(listings)
        if lid in deleted:
            continue
        seq += rng.randint(1, 3)  # sequenceIds are increasing, not dense
        if lid not in created:
            created.add(lid)
            ev = listing_event(
                seq, lid, event_type="listing/created", title=f"Listing {len(created)}", price=rng.randint(1000, 50_000)
            )
        else:
            roll = rng.random()
            if roll < 0.05:
                deleted.add(lid)
                ev = listing_event(seq, lid, event_type="listing/deleted")
            elif roll < 0.25:
                xid = new_id()
                exceptions[lid].append(xid)
                ev = exception_event(seq, lid, xid, start="2027-01-01T00:00:00.000Z", end="2027-01-03T00:00:00.000Z")
            elif roll < 0.30 and exceptions[lid]:
                ev = exception_event(seq, lid, exceptions[lid].pop(), start="", end="", deleted=True)
            else:
                ev = listing_event(
                    seq,
                    lid,
                    state=rng.choice(STATES),
                    title=f"Listing {lid[:4]} v{seq}",
                    price=rng.randint(1000, 50_000),
                )
        events.append(ev)
    return events


def index_contents(svc: Service) -> dict[str, Any]:
    engine, alias = svc.services.engine, svc.services.names.alias
    return {hit["_id"]: hit["_source"] for hit in helpers.scan(engine, index=alias, query={"query": {"match_all": {}}})}


def send_in_chunks(svc: Service, events: list[dict[str, Any]], rng: random.Random) -> None:
    i = 0
    while i < len(events):
        size = rng.randint(1, 40)
        svc.send(events[i : i + size])
        i += size


def test_shuffled_duplicated_delivery_equals_in_order(engine_url: str, redis_url: str) -> None:
    rng = random.Random(20261122)
    history = event_history(rng)
    assert len(history) == 300
    messy = history + [rng.choice(history) for _ in range(30)]  # 10% duplicates
    rng.shuffle(messy)

    with running_service(engine_url, redis_url) as ordered, running_service(engine_url, redis_url) as shuffled:
        for i in range(0, len(history), 50):
            ordered.send(history[i : i + 50])
        send_in_chunks(shuffled, messy, rng)
        ordered.wait_searchable()
        shuffled.wait_searchable()

        expected, got = index_contents(ordered), index_contents(shuffled)
        assert len(expected) == 40
        assert got == expected
        # And what the public sees is the same, page by page.
        for params in ({"perPage": 7, "page": 2}, {"sort": "-price"}, {"price": "1000,20000"}):
            assert shuffled.query(**params) == ordered.query(**params)
        # Relevance scores may differ with segment history on a real cluster: compare the sets.
        assert sorted(shuffled.ids(keywords="listing")) == sorted(ordered.ids(keywords="listing"))
        assert shuffled.status()["lastSequenceId"] == ordered.status()["lastSequenceId"]
