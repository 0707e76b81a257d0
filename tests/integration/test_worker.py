"""Worker behaviour that intake validation cannot reach."""

from __future__ import annotations

from tests.support import Service, listing_event, new_id


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
