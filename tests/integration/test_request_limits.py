"""Limits with clear errors: every bound answers 413/414/400 in the contract's shape, naming what
was too large, and the configurable ones follow their settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.events import listing_event, new_id
from tests.support.service import Service, contract_error, running_service

SMALL = {
    "max_body_bytes": 64 * 1024,
    "max_query_bytes": 2048,
    "max_keywords_chars": 10,
    "max_ids": 3,
    "max_extended_data_bytes": 2048,
    "max_extended_data_depth": 4,
}


@pytest.fixture(scope="module")
def small(engine_url: str, redis_url: str) -> Iterator[Service]:
    with running_service(engine_url, redis_url, **SMALL) as svc:
        yield svc


def test_body_over_the_limit_is_413_whether_declared_or_streamed(small: Service) -> None:
    big = b'{"data": [' + b" " * (64 * 1024) + b"]}"
    declared = small.operator.post("/v1/events", content=big, headers={"Content-Type": "application/json"})
    contract_error(declared, 413, ["body"])

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold on the stream itself
        yield b'{"data": ['
        for _ in range(100):
            yield b" " * 1024
        yield b"]}"

    streamed = small.operator.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json"})
    contract_error(streamed, 413, ["body"])
    # Every endpoint, not only intake.
    schema_put = small.operator.put("/v1/search-schemas/listing/public/x", content=big)
    contract_error(schema_put, 413, ["body"])
    assert small.status()["events"]["accepted"] == 0


def test_body_under_the_limit_still_reaches_intake(small: Service) -> None:
    lid = new_id()
    result = small.send([listing_event(1, lid, event_type="listing/created")])
    assert result["accepted"] == 1


def test_query_string_over_the_limit_is_414(small: Service) -> None:
    resp = small.public.get("/v1/api/listings/query", params={"sort": "x" * 3000})
    contract_error(resp, 414, ["query"])


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"keywords": "elevenchars"}, "keywords"),
        ({"ids": ",".join(new_id() for _ in range(4))}, "ids"),
        ({"page": "101", "perPage": "100"}, "page"),  # (page - 1) * perPage + perPage > max_result_window
    ],
)
def test_configured_query_limits_are_400_naming_the_parameter(
    small: Service, params: dict[str, str], param: str
) -> None:
    err = contract_error(small.public.get("/v1/api/listings/query", params=params), 400, ["query", param])
    assert "at most" in err["details"]


def test_queries_inside_the_configured_limits_pass(small: Service) -> None:
    assert small.query(keywords="tenchars!!", ids=",".join(new_id() for _ in range(3)))["data"] == []
    assert small.query(page=100, perPage=100)["data"] == []


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        node = {"x": node}
    return node


@pytest.mark.parametrize(
    ("public_data", "metadata", "reason"),
    [
        ({"blob": "x" * 3000}, {}, "resource.attributes.publicData: 30"),
        ({}, {"blob": "x" * 3000}, "resource.attributes.metadata: 30"),
        (_nested(5), {}, "resource.attributes.publicData: nested deeper than 4 levels"),
        ({}, _nested(5), "resource.attributes.metadata: nested deeper than 4 levels"),
    ],
)
def test_extended_data_over_the_configured_limits_is_dead_lettered(
    small: Service, public_data: dict[str, Any], metadata: dict[str, Any], reason: str
) -> None:
    before = small.status()["deadLetters"]
    bad = listing_event(10, new_id(), event_type="listing/created", public_data=public_data)
    bad["attributes"]["resource"]["attributes"]["metadata"] = metadata
    ok = listing_event(11, new_id(), event_type="listing/created", public_data=_nested(3))
    result = small.send([bad, ok])
    assert (result["accepted"], result["deadLettered"]) == (1, 1)
    [letter] = small.operator.get("/v1/dead-letters", params={"limit": 1}).json()["data"]
    assert letter["reason"].startswith(reason), letter["reason"]
    assert small.status()["deadLetters"] == before + 1


def test_a_huge_bad_event_is_kept_only_in_part(service: Service) -> None:
    bad = listing_event(1, new_id(), event_type="listing/created", title="x" * 500_000)
    assert service.send([bad])["deadLettered"] == 1
    [letter] = service.operator.get("/v1/dead-letters").json()["data"]
    assert "title" in letter["reason"]
    assert set(letter["event"]) == {"notStored", "head"} and len(letter["event"]["head"]) <= 4096
    replay = service.operator.post(f"/v1/dead-letters/{letter['id']}/replay")
    contract_error(replay, 422)
