"""Intake: malformed events are dead-lettered with a reason, unknown types ignored and counted,
good events around them land; a malformed request body is refused whole with a 400."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.events import listing_event, new_id
from tests.support.service import Service


def broken(ev: dict[str, Any], path: list[str], value: Any = ..., *, delete: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(ev)
    node = out
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


BAD_CASES: list[tuple[str, list[str], Any, bool, str]] = [
    ("missing id", ["id"], None, True, "id"),
    ("missing sequenceId", ["attributes", "sequenceId"], None, True, "sequenceId"),
    ("sequenceId as string", ["attributes", "sequenceId"], "12", False, "sequenceId"),
    ("sequenceId as bool", ["attributes", "sequenceId"], True, False, "sequenceId"),
    ("sequenceId as float", ["attributes", "sequenceId"], 12.5, False, "sequenceId"),
    ("negative sequenceId", ["attributes", "sequenceId"], -1, False, "sequenceId"),
    ("id not a uuid", ["id"], "not-a-uuid", False, "id"),
    ("resourceId missing", ["attributes", "resourceId"], None, True, "resourceId"),
    ("title as number", ["attributes", "resource", "attributes", "title"], 42, False, "title"),
    ("price amount as string", ["attributes", "resource", "attributes", "price", "amount"], "100", False, "amount"),
    ("unknown state", ["attributes", "resource", "attributes", "state"], "archived", False, "state"),
    ("lat out of range", ["attributes", "resource", "attributes", "geolocation", "lat"], 123.0, False, "lat"),
    ("publicData not an object", ["attributes", "resource", "attributes", "publicData"], [1], False, "publicData"),
    (
        "createdAt not a timestamp",
        ["attributes", "resource", "attributes", "createdAt"],
        "yesterday",
        False,
        "createdAt",
    ),
    ("resource missing on update", ["attributes", "resource"], None, False, "resource"),
    ("attributes not an object", ["attributes"], "x", False, "attributes"),
]


@pytest.mark.parametrize(("name", "path", "value", "delete", "named"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_malformed_event_is_dead_lettered_with_reason(
    service: Service, name: str, path: list[str], value: Any, delete: bool, named: str
) -> None:
    before, bad_id, after = new_id(), new_id(), new_id()
    bad = broken(listing_event(2, bad_id, event_type="listing/created"), path, value, delete=delete)
    result = service.send(
        [
            listing_event(1, before, event_type="listing/created"),
            bad,
            listing_event(3, after, event_type="listing/created"),
        ]
    )
    assert result["accepted"] == 2 and result["deadLettered"] == 1
    status = service.wait_searchable()
    assert status["deadLetters"] == 1
    assert sorted(service.ids()) == sorted([before, after])
    letters = service.operator.get("/v1/dead-letters").json()["data"]
    assert len(letters) == 1
    assert named in letters[0]["reason"], letters[0]["reason"]
    assert letters[0]["stage"] == "intake"


def test_non_object_events_are_dead_lettered(service: Service) -> None:
    good = new_id()
    result = service.send([1, "x", None, [], listing_event(1, good, event_type="listing/created")])
    assert (result["accepted"], result["deadLettered"]) == (1, 4)
    service.wait_searchable()
    assert service.ids() == [good]


def test_unknown_event_type_is_ignored_and_counted(service: Service) -> None:
    good = new_id()
    user_event = listing_event(1, new_id(), event_type="listing/created")
    user_event["attributes"]["eventType"] = "user/updated"
    user_event["attributes"]["resourceType"] = "user"
    result = service.send([user_event, listing_event(2, good, event_type="listing/created")])
    assert result == {"accepted": 1, "deadLettered": 0, "ignored": 1, "maxSequenceId": 2}
    status = service.wait_searchable()
    assert status["events"]["ignored"] == 1 and status["deadLetters"] == 0
    assert service.ids() == [good]


def test_private_data_is_not_kept_in_dead_letters(service: Service) -> None:
    bad = listing_event(1, new_id(), event_type="listing/created", private_data={"secret": "s3cr3t-value"})
    bad["attributes"]["resource"]["attributes"]["state"] = "bogus"
    service.send([bad])
    letters = service.operator.get("/v1/dead-letters").text
    assert "s3cr3t-value" not in letters
    assert "bogus" in letters  # the rest of the original event is kept for inspection


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", 400),
        (b'{"data": [{"x": NaN}]}', 400),
        (b'{"data": {"not": "a list"}}', 400),
        (b"[]", 400),
        (b"", 400),
    ],
)
def test_malformed_body_is_refused_whole(service: Service, body: bytes, expected: int) -> None:
    resp = service.operator.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == expected, resp.text
    [err] = resp.json()["errors"]
    assert err["status"] == expected and err["details"]
    assert service.status()["events"]["accepted"] == 0


def test_too_many_events_in_one_request(service: Service) -> None:
    limit = service.services.settings.max_events_per_request
    events = [listing_event(i + 1, new_id(), event_type="listing/created") for i in range(limit + 1)]
    resp = service.operator.post("/v1/events", json={"data": events})
    assert resp.status_code == 413
    assert "at most" in resp.json()["errors"][0]["details"]


def test_deleted_event_with_resource_null_is_valid(service: Service) -> None:
    lid = new_id()
    result = service.send(
        [listing_event(1, lid, event_type="listing/created"), listing_event(2, lid, event_type="listing/deleted")]
    )
    assert result["accepted"] == 2
    service.wait_searchable()
    assert service.ids() == []
