"""Search schemas on small hand-made sets: registry API, each type's filter semantics, defaults,
sorting, wrong-typed values, and the mapping staying within the declared keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from tests.support.events import listing_event, new_id
from tests.support.service import Service, running_service

# (name, publicData, metadata)
ROWS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "a",
        {"listingType": "room", "amenities": ["wifi", "tv"], "guests": 2, "pets": True, "blurb": "sunny loft"},
        {"tier": 3},
    ),
    ("b", {"listingType": "house", "amenities": ["wifi"], "guests": 6, "pets": False}, {"tier": 1}),
    ("c", {"listingType": "room", "amenities": ["tv", "pool"], "guests": 4}, {}),
    ("d", {"listingType": "tent", "guests": "many", "pets": "yes", "amenities": "wifi"}, {"tier": "gold"}),
    ("e", {"extra": {"deep": [1, 2]}, "unknownKey": "x"}, {"other": 1}),
]


@pytest.fixture(scope="module")
def svc(engine_url: str, redis_url: str, job_worker: Celery) -> Iterator[tuple[Service, dict[str, str]]]:
    with running_service(engine_url, redis_url, jobs=job_worker) as service:
        ids = {name: new_id() for name, _, _ in ROWS}
        events = []
        for seq, (name, pub, meta) in enumerate(ROWS, start=1):
            ev = listing_event(seq, ids[name], event_type="listing/created", title=f"Listing {name}", public_data=pub)
            ev["attributes"]["resource"]["attributes"]["metadata"] = meta
            events.append(ev)
        service.send(events)
        service.wait_searchable()
        service.apply_schema("public", "amenities", "multi-enum", default=["wifi"])
        service.apply_schema("public", "guests", "long", default=1)
        service.apply_schema("public", "pets", "boolean", default=False)
        service.apply_schema("public", "blurb", "text")
        service.apply_schema("metadata", "tier", "long")
        yield service, ids


def names(svc: tuple[Service, dict[str, str]], **params: Any) -> set[str]:
    service, ids = svc
    by_id = {v: k for k, v in ids.items()}
    return {by_id[i] for i in service.ids(**params)}


def ordered(svc: tuple[Service, dict[str, str]], **params: Any) -> list[str]:
    service, ids = svc
    by_id = {v: k for k, v in ids.items()}
    return [by_id[i] for i in service.ids(**params)]


def test_listing_type_exists_on_a_fresh_install(engine_url: str, redis_url: str) -> None:
    with running_service(engine_url, redis_url) as fresh:
        listed = fresh.operator.get("/v1/search-schemas").json()
        assert {"key": "listingType", "scope": "public", "type": "enum", "doc": "Listing type"} in listed["data"]
        lid = new_id()
        fresh.send([listing_event(1, lid, event_type="listing/created", public_data={"listingType": "room"})])
        fresh.wait_searchable()
        assert fresh.ids(pub_listingType="room") == [lid]
        assert fresh.ids(pub_listingType="house") == []


def test_enum(svc: tuple[Service, dict[str, str]]) -> None:
    assert names(svc, pub_listingType="room") == {"a", "c"}
    assert names(svc, pub_listingType="room,tent") == {"a", "c", "d"}
    assert names(svc, pub_listingType="castle") == set()


def test_multi_enum_all_any_and_default(svc: tuple[Service, dict[str, str]]) -> None:
    # e lacks amenities → default ["wifi"]; d's "wifi" is a string, not a list → skipped → default.
    assert names(svc, pub_amenities="has_all:wifi,tv") == {"a"}
    assert names(svc, pub_amenities="wifi,tv") == {"a"}  # bare list = has_all
    assert names(svc, pub_amenities="has_any:pool,tv") == {"a", "c"}
    assert names(svc, pub_amenities="has_any:wifi") == {"a", "b", "d", "e"}
    assert names(svc, pub_amenities="wifi") == {"a", "b", "d", "e"}


def test_boolean_and_default(svc: tuple[Service, dict[str, str]]) -> None:
    assert names(svc, pub_pets="true") == {"a"}
    assert names(svc, pub_pets="false") == {"b", "c", "d", "e"}  # c, e lack it; d's "yes" is skipped


def test_long_ranges_exact_and_default(svc: tuple[Service, dict[str, str]]) -> None:
    assert names(svc, pub_guests="2,6") == {"a", "c"}  # min inclusive, max exclusive
    assert names(svc, pub_guests="6") == {"b"}
    assert names(svc, pub_guests=",2") == {"d", "e"}  # default 1 for the missing and the skipped
    assert names(svc, pub_guests="1") == {"d", "e"}
    assert names(svc, meta_tier="2,") == {"a"}
    assert names(svc, meta_tier=",100") == {"a", "b"}  # no default: missing never matches


def test_sort_on_long_keys(svc: tuple[Service, dict[str, str]]) -> None:
    _, ids = svc
    by_guests = ordered(svc, sort="pub_guests")
    assert by_guests[:3] == ["b", "c", "a"]
    assert by_guests[3:] == sorted(["d", "e"], key=lambda n: ids[n])  # default 1 for d, e; ties by id
    assert ordered(svc, sort="-pub_guests")[-2:] == ["c", "b"]
    assert ordered(svc, sort="meta_tier")[:2] == ["a", "b"]  # without a default, missing sort last
    assert ordered(svc, sort="-meta_tier")[:2] == ["b", "a"]


def test_text_schema_joins_keywords_but_weighs_least(svc: tuple[Service, dict[str, str]]) -> None:
    assert names(svc, keywords="sunny") == {"a"}
    service, _ = svc
    resp = service.public.get("/v1/api/listings/query", params={"pub_blurb": "sunny"})
    assert resp.status_code == 400 and "keywords" in resp.json()["errors"][0]["details"]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"pub_nope": "x"}, "pub_nope"),
        ({"meta_guests": "1"}, "meta_guests"),
        ({"pub_guests": "a,b"}, "pub_guests"),
        ({"pub_guests": "5,1"}, "pub_guests"),
        ({"pub_pets": "yes"}, "pub_pets"),
        ({"pub_amenities": "has_any:"}, "pub_amenities"),
        ({"sort": "pub_listingType"}, "sort"),
        ({"sort": "pub_nope"}, "sort"),
    ],
)
def test_bad_schema_parameters_are_400(svc: tuple[Service, dict[str, str]], params: dict[str, str], param: str) -> None:
    service, _ = svc
    resp = service.public.get("/v1/api/listings/query", params=params)
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["source"]["path"] == ["query", param]


def test_wrong_typed_values_are_skipped_and_counted(svc: tuple[Service, dict[str, str]]) -> None:
    service, ids = svc
    status = service.status()
    assert status["skippedValues"] == {"public/guests": 1, "public/pets": 1, "public/amenities": 1, "metadata/tier": 1}
    assert ids["d"] in service.ids()  # still searchable


def test_mapping_holds_only_declared_keys(svc: tuple[Service, dict[str, str]]) -> None:
    service, _ = svc
    live = service.status()["index"]
    mapping = service.services.engine.indices.get_mapping(index=live)[live]["mappings"]
    assert set(mapping["properties"]["pub"]["properties"]) == {"listingType", "amenities", "guests", "pets", "blurb"}
    assert set(mapping["properties"]["meta"]["properties"]) == {"tier"}
    assert mapping["properties"]["pub"]["properties"]["amenities"]["type"] == "keyword"
    assert mapping["properties"]["pub"]["properties"]["guests"]["type"] == "long"
    top = set(mapping["properties"])
    assert "extra" not in top and "unknownKey" not in top


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("public/bad.key", {"type": "enum"}, "key"),
        ("public/1abc", {"type": "enum"}, "key"),
        ("public/ok", {"type": "color"}, "type"),
        ("public/ok", {"type": "boolean", "default": "yes"}, "default"),
        ("public/ok", {"type": "long", "default": 1.5}, "default"),
        ("public/ok", {"type": "long", "default": True}, "default"),
        ("public/ok", {"type": "multi-enum", "default": "a"}, "default"),
        ("public/ok", {"type": "text", "default": "a"}, "default"),
        ("private/ok", {"type": "enum"}, "scope"),
        ("public/ok", {"type": "enum", "surprise": 1}, "surprise"),
    ],
)
def test_schema_validation_errors(
    svc: tuple[Service, dict[str, str]], path: str, body: dict[str, Any], param: str
) -> None:
    service, _ = svc
    resp = service.operator.put(f"/v1/search-schemas/listing/{path}", json=body)
    assert resp.status_code == 400, resp.text
    [err] = resp.json()["errors"]
    assert param in err["details"], err


def test_unset_unknown_is_404_and_schema_endpoints_need_the_operator(svc: tuple[Service, dict[str, str]]) -> None:
    service, _ = svc
    assert service.operator.delete("/v1/search-schemas/listing/public/neverSet").status_code == 404
    assert service.public.get("/v1/search-schemas").status_code == 401
    assert service.public.put("/v1/search-schemas/listing/public/x", json={"type": "enum"}).status_code == 401
    assert service.public.post("/v1/jobs/reindex").status_code == 401
    assert service.operator.get("/v1/jobs/nope").status_code == 404


def test_doc_or_default_change_needs_no_rebuild(engine_url: str, redis_url: str, job_worker: Celery) -> None:
    with running_service(engine_url, redis_url, jobs=job_worker) as service:
        a, b = new_id(), new_id()
        service.send(
            [
                listing_event(1, a, event_type="listing/created", public_data={"size": 3}),
                listing_event(2, b, event_type="listing/created"),
            ]
        )
        service.wait_searchable()
        service.apply_schema("public", "size", "long")
        version = service.status()["indexVersion"]
        assert service.ids(pub_size="1") == []
        assert service.set_schema("public", "size", "long", default=1, doc="rooms")["meta"]["job"] is None
        service.services.live.invalidate()
        assert service.ids(pub_size="1") == [b]
        assert service.status()["indexVersion"] == version


def test_unset_and_quick_succession(engine_url: str, redis_url: str, job_worker: Celery) -> None:
    with running_service(engine_url, redis_url, jobs=job_worker) as service:
        lid = new_id()
        service.send([listing_event(1, lid, event_type="listing/created", public_data={"x": 1, "y": "v", "z": True})])
        service.wait_searchable()
        jobs = [
            service.set_schema("public", key, t)["meta"]["job"]
            for key, t in (("x", "long"), ("y", "enum"), ("z", "boolean"))
        ]
        for job in {j["id"] for j in jobs if j}:
            assert service.wait_job(job)["state"] == "succeeded"
        service.services.live.invalidate()
        assert service.ids(pub_x="1", pub_y="v", pub_z="true") == [lid]
        service.apply_schema("public", "x", "long")  # unchanged type: nothing to rebuild
        resp = service.operator.delete("/v1/search-schemas/listing/public/y")
        job = resp.json()["meta"]["job"]
        assert service.wait_job(job["id"])["state"] == "succeeded"
        service.services.live.invalidate()
        assert service.public.get("/v1/api/listings/query", params={"pub_y": "v"}).status_code == 400
        assert service.ids(pub_x="1") == [lid]
