"""Listing lifecycle through HTTP: only published, non-deleted listings are ever visible."""

from __future__ import annotations

import pytest

from tests.support.events import listing_event, new_id
from tests.support.service import Service


def visible_everywhere(svc: Service, lid: str) -> tuple[bool, bool, bool]:
    """(in a plain query, by ids, by show)"""
    in_query = lid in svc.ids()
    by_ids = svc.ids(ids=lid) == [lid]
    show = svc.public.get("/v1/api/listings/show", params={"id": lid})
    assert show.status_code in (200, 404), show.text
    return in_query, by_ids, show.status_code == 200


def test_created_is_searchable_and_updated_shows_new_values(service: Service) -> None:
    lid = new_id()
    service.send([listing_event(1, lid, event_type="listing/created", title="Blue cabin", price=5000)])
    service.wait_searchable()
    assert visible_everywhere(service, lid) == (True, True, True)
    service.send([listing_event(2, lid, title="Red cabin", price=7000)])
    service.wait_searchable()
    [found] = service.query(ids=lid)["data"]
    assert found["attributes"]["title"] == "Red cabin"
    assert found["attributes"]["price"] == {"amount": 7000, "currency": "USD"}
    assert service.ids(keywords="blue") == []
    assert service.ids(keywords="red") == [lid]


def test_deleted_is_gone(service: Service) -> None:
    lid = new_id()
    service.send([listing_event(1, lid, event_type="listing/created")])
    service.send([listing_event(2, lid, event_type="listing/deleted")])
    service.wait_searchable()
    assert visible_everywhere(service, lid) == (False, False, False)
    assert service.status()["documents"] == 1  # kept as a tombstone, never shown


def test_deleted_flag_on_update_hides_too(service: Service) -> None:
    lid = new_id()
    service.send([listing_event(1, lid, event_type="listing/created"), listing_event(2, lid, deleted=True)])
    service.wait_searchable()
    assert visible_everywhere(service, lid) == (False, False, False)


@pytest.mark.parametrize("state", ["draft", "pendingApproval", "closed"])
def test_unpublished_states_are_invisible(service: Service, state: str) -> None:
    lid, other = new_id(), new_id()
    service.send(
        [
            listing_event(1, lid, event_type="listing/created", state=state, title="Hidden gem"),
            listing_event(2, other, event_type="listing/created", title="Visible gem"),
        ]
    )
    service.wait_searchable()
    assert visible_everywhere(service, lid) == (False, False, False)
    assert service.ids(keywords="gem") == [other]
    assert service.ids(ids=f"{lid},{other}") == [other]
    assert service.query()["meta"]["totalItems"] == 1


def test_closed_then_reopened_is_visible_again(service: Service) -> None:
    lid = new_id()
    service.send([listing_event(1, lid, event_type="listing/created", title="Seasonal hut")])
    service.send([listing_event(2, lid, state="closed", title="Seasonal hut")])
    service.wait_searchable()
    assert visible_everywhere(service, lid) == (False, False, False)
    service.send([listing_event(3, lid, state="published", title="Seasonal hut")])
    service.wait_searchable()
    assert visible_everywhere(service, lid) == (True, True, True)


def test_stale_event_changes_nothing(service: Service) -> None:
    lid = new_id()
    service.send([listing_event(10, lid, event_type="listing/created", title="Newest")])
    service.wait_searchable()
    service.send([listing_event(5, lid, state="closed", title="Older")])
    service.wait_searchable()
    [found] = service.query(ids=lid)["data"]
    assert found["attributes"]["title"] == "Newest"


def test_show_unknown_id_is_404_in_error_shape(service: Service) -> None:
    resp = service.public.get("/v1/api/listings/show", params={"id": new_id()})
    assert resp.status_code == 404
    [err] = resp.json()["errors"]
    assert err["status"] == 404 and err["code"] == "not-found"


def test_status_reports_progress(service: Service) -> None:
    lid = new_id()
    result = service.send([listing_event(41, lid, event_type="listing/created")])
    assert result == {"accepted": 1, "deadLettered": 0, "ignored": 0, "maxSequenceId": 41}
    status = service.wait_searchable()
    assert status["lastSequenceId"] == 41
    assert status["indexVersion"] == 1
    assert status["documents"] == 1 and status["publishedDocuments"] == 1
    assert status["events"]["applied"] == 1
