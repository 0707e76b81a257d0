"""Worker behaviour that intake validation cannot reach."""

from __future__ import annotations

from tests.support.events import listing_event, new_id
from tests.support.service import Service


def test_unreadable_stream_entry_is_dead_lettered_and_the_stream_flows(service: Service) -> None:
    keys = service.services.keys
    service.services.redis.xadd(keys.events, {"e": b"{definitely not an event"})
    lid = new_id()
    service.send([listing_event(1, lid, event_type="listing/created")])
    status = service.wait_searchable()
    assert status["pending"] == 0 and status["deadLetters"] == 1
    assert service.ids() == [lid]
    [letter] = service.operator.get("/v1/dead-letters").json()["data"]
    assert letter["stage"] == "worker" and "unreadable stream entry" in letter["reason"]


def test_one_listing_many_events_in_one_batch(service: Service) -> None:
    lid = new_id()
    events = [
        listing_event(i, lid, event_type="listing/created" if i == 1 else "listing/updated", title=f"v{i}")
        for i in range(1, 51)
    ]
    service.send(list(reversed(events)))
    service.wait_searchable()
    [found] = service.query(ids=lid)["data"]
    assert found["attributes"]["title"] == "v50"
    hit = service.services.engine.get(index=service.services.names.alias, id=lid)
    assert hit["_version"] == 50  # the external version is the newest sequenceId


def test_a_document_deleted_by_hand_dead_letters_its_events_instead_of_blocking(service: Service) -> None:
    """The engine keeps a deleted document's version for a while; an event older than that
    conflicts on every try. It must cost that listing's events (dead letters), not the stream."""
    lid, other = new_id(), new_id()
    service.send([listing_event(10, lid, event_type="listing/created")])
    service.wait_searchable()
    engine, alias = service.services.engine, service.services.names.alias
    engine.delete(index=alias, id=lid, params={"refresh": "true"})  # tombstone at version 11
    service.send([listing_event(5, lid, title="older"), listing_event(20, other, event_type="listing/created")])
    status = service.wait_searchable()
    assert status["deadLetters"] == 1 and service.ids() == [other]
    [letter] = service.operator.get("/v1/dead-letters").json()["data"]
    assert letter["stage"] == "worker" and "version conflicts persist" in letter["reason"]


def test_a_backlog_bunched_on_few_listings_makes_few_big_bulks(engine_url: str, redis_url: str) -> None:
    """An import sends each listing with its exceptions: 1,000 events touch 100 listings. The
    worker reads on until its batch touches about batch_size listings, so the backlog becomes
    one bulk request rather than one per thousand events."""
    from listing_search.runner import start_worker
    from tests.support.events import exception_event, iso
    from tests.support.service import running_service

    events = []
    seq = 0
    for _ in range(300):
        lid = new_id()
        seq += 1
        events.append(listing_event(seq, lid, event_type="listing/created"))
        for day in range(9):
            seq += 1
            events.append(exception_event(seq, lid, new_id(), start=iso(day * 1440), end=iso(day * 1440 + 60)))
    with running_service(engine_url, redis_url, workers=0) as svc:
        for start in range(0, len(events), 1000):
            svc.send(events[start : start + 1000])
        worker = start_worker(svc.services, consumer="bunched")
        try:
            status = svc.wait_searchable()
        finally:
            worker.stop()
        metrics = svc.operator.get("/metrics").text
        bulks = next(line for line in metrics.splitlines() if line.startswith("listing_search_bulk_seconds_count"))
        assert status["documents"] == 300 and float(bulks.split()[1]) == 1, bulks
