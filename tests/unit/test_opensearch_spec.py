"""The request bodies this service sends, checked against OpenSearch's own API specification.

`tests/support/opensearch_spec` holds the spec's request-body schemas (see its README.md); these
tests check that machinery, then the bodies the real builders produce. No engine, Redis or network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from indexer.index import lifecycle, schema_registry
from indexer.index.documents import index_op
from indexer.index.scan import pages_by_id
from infra.settings import Settings
from schemas.availability import utc_today
from schemas.index_layout import F, IndexNames, index_settings, mappings, public_filter
from schemas.search_schema import DEFAULT_SCHEMAS, SchemaSet, SearchSchema
from search_api.search.dsl import search_body
from search_api.search.parse import parse_listing_query
from tests.support.opensearch_spec import body_errors, bundle, operation_of, operations, validator

SPEC_COMMIT = "fbe9edebac41d098c67e2d379667184368c4ab6c"

# The spec refuses these two sort entries, which OpenSearch accepts (see the README.md there); the API
# sent them until dsl.py switched to the forms the spec takes (`"_score": "desc"`, an array of points).
SCORE_SORT_REFUSED = (
    'spec: `{"_score": {"order": "desc"}}` matches two branches of the `oneOf` in _common.yaml '
    "SortCombinations (FieldWithOrder: a field named _score; SortOptions: the _score sort), and a "
    'oneOf must match exactly one. `{"_score": "desc"}` or "_score" validate.'
)
GEO_SORT_REFUSED = (
    "spec: _common.yaml GeoDistanceSort takes the origin only as an array of GeoLocation "
    '(`"geo": [{"lat": .., "lon": ..}]`); OpenSearch also takes one point (`"geo": {"lat": .., "lon": ..}`).'
)


def wire(body: Any) -> bytes:
    return orjson.dumps(body)


def ndjson(*lines: Any) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def assert_valid(method: str, path: str, body: bytes) -> None:
    errors = body_errors(method, path, body)
    assert errors == [], "\n".join(errors)


def assert_refused(method: str, path: str, body: bytes, *expected: str) -> list[str]:
    errors = body_errors(method, path, body)
    assert errors, f"{method} {path} validated: {body.decode()[:300]}"
    text = "\n".join(errors)
    for pattern in expected:
        assert re.search(pattern, text), f"{pattern!r} not in:\n{text}"
    return errors


# --- the bundle -------------------------------------------------------------------------------


def test_bundle_records_its_source() -> None:
    source = bundle()["source"]
    assert source["repository"] == "https://github.com/opensearch-project/opensearch-api-specification"
    assert source["commit"] == SPEC_COMMIT
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", source["date"])


def test_bundle_has_exactly_the_operations_sent() -> None:
    assert operations() == {
        "search",
        "count",
        "mget",
        "bulk",
        "bulk.action",
        "bulk.update",
        "indices.create",
        "indices.put_index_template",
        "indices.update_aliases",
        "indices.put_mapping",
    }
    assert bundle()["operations"]["bulk"]["content_type"] == "application/x-ndjson"


_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA = ("items", "additionalProperties", "unevaluatedProperties", "propertyNames", "not", "if", "then", "else")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object under `node` (a schema), by keyword: `properties` may name a `default`."""
    if not isinstance(node, dict):
        return
    yield node
    for key, value in node.items():
        if key in _SUBSCHEMA_MAPS:
            for sub in value.values():
                yield from _walk(sub)
        elif key in _SUBSCHEMA_LISTS:
            for sub in value:
                yield from _walk(sub)
        elif key in _SUBSCHEMA:
            yield from _walk(value)


def _all_schemas() -> Iterator[dict[str, Any]]:
    for root in [*(op["schema"] for op in bundle()["operations"].values()), *bundle()["$defs"].values()]:
        yield from _walk(root)


def test_bundle_is_self_contained_and_keeps_only_what_is_reachable() -> None:
    defs = bundle()["$defs"]
    refs = {node["$ref"] for node in _all_schemas() if "$ref" in node}
    assert all(ref.startswith("#/$defs/") for ref in refs), sorted(r for r in refs if not r.startswith("#/$defs/"))
    # none missing, none unused (a compiled `oneOf`'s branches are reached by pointer, `#/$defs/<name>/oneOf/<n>`)
    assert {ref.removeprefix("#/$defs/").split("/")[0] for ref in refs} == set(defs)
    for node in _all_schemas():
        assert not {"discriminator", "nullable", "$close", "$discriminator"} & set(node), node
        assert not any(key.startswith("x-") for key in node), node


def test_bundle_is_a_valid_2020_12_schema() -> None:
    Draft202012Validator.check_schema(bundle())


def test_validators_are_compiled_once() -> None:
    assert validator("search") is validator("search")
    with pytest.raises(KeyError):
        validator("delete_by_query")


# --- which requests are checked ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("POST", "/p-public-v1/_search", "search"),
        ("GET", "/p-v1/_search", "search"),
        ("POST", "/_search", "search"),
        ("POST", "/p-v1,p-v2/_search?filter_path=hits", "search"),
        ("POST", "/p-v1/_count", "count"),
        ("POST", "/p-v1/_mget", "mget"),
        ("POST", "/_bulk", "bulk"),
        ("PUT", "/p-v1/_bulk", "bulk"),
        ("PUT", "/_index_template/p-template", "indices.put_index_template"),
        ("POST", "/_aliases", "indices.update_aliases"),
        ("PUT", "/p-v1/_mapping", "indices.put_mapping"),
        ("PUT", "/p-v1", "indices.create"),
        ("GET", "/p-v1", None),
        ("DELETE", "/p-v1", None),
        ("GET", "/p-v1/_mapping", None),
        ("GET", "/_cluster/health", None),
        ("POST", "/_search/scroll", None),
        ("POST", "/p-v1/_doc/1", None),
        ("PUT", "/_cluster/settings", None),
        ("GET", "/", None),
    ],
)
def test_requests_map_to_operations_by_path_shape(method: str, path: str, operation: str | None) -> None:
    assert operation_of(method, path) == operation


def test_requests_without_a_body_or_of_other_operations_are_not_checked() -> None:
    assert body_errors("GET", "/p-v1/_search", b"") == []
    assert body_errors("POST", "/p-v1/_count", b"") == []
    assert body_errors("GET", "/_cluster/health", b"") == []
    assert body_errors("DELETE", "/p-v1", b"") == []
    assert body_errors("PUT", "/p-v1/_doc/1", wire({"anything": {"goes": 1}})) == []


def test_a_body_that_is_not_json_is_an_error() -> None:
    assert_refused("POST", "/p-v1/_search", b"{query", r"not JSON")


# --- each operation: a realistic body passes, a wrong one fails --------------------------------

BRIEF_SEARCH: dict[str, Any] = {
    "query": {
        "bool": {
            "filter": [
                {"term": {"state": "published"}},
                {"term": {"deleted": False}},
                {"range": {"priceAmount": {"gte": 5000, "lt": 20000}}},
                {
                    "geo_bounding_box": {
                        "geo": {"top_left": {"lat": 42.7, "lon": -73.8}, "bottom_right": {"lat": 42.6, "lon": -73.7}}
                    }
                },
                {"nested": {"path": "avail", "query": {"bool": {"filter": [{"range": {"avail.k": {"gte": 1}}}]}}}},
            ],
            "must": [
                {
                    "bool": {
                        "should": [
                            {
                                "multi_match": {
                                    "query": "cozy loft",
                                    "fields": ["title^3", "description^1"],
                                    "operator": "or",
                                    "fuzziness": "AUTO:5,1000",
                                }
                            },
                            {"multi_match": {"query": "cozy loft", "fields": ["title.prefix^1.5"], "operator": "or"}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            ],
        }
    },
    "sort": [
        {"_geo_distance": {"geo": {"lat": 42.65, "lon": -73.75}, "order": "asc", "unit": "m"}},
        {"_score": {"order": "desc"}},
        {"createdAt": {"order": "desc", "missing": "_last"}},
        {"id": {"order": "asc"}},
    ],
    "from": 0,
    "size": 24,
    "track_total_hits": True,
    "_source": ["src.listing"],
    "post_filter": {"bool": {"filter": [{"terms": {"pub.listingType": ["Private room"]}}]}},
    "aggs": {
        "pub_listingType": {
            "filter": {"match_all": {}},
            "aggs": {
                "v": {"terms": {"field": "pub.listingType", "size": 1000}},
                "missing": {"filter": {"bool": {"must_not": [{"exists": {"field": "pub.listingType"}}]}}},
            },
        },
        "price": {
            "filter": {"match_all": {}},
            "aggs": {
                "lo": {"min": {"field": "priceAmount"}},
                "hi": {"max": {"field": "priceAmount"}},
                "n": {"value_count": {"field": "priceAmount"}},
            },
        },
    },
}


@pytest.mark.xfail(strict=True, reason=f"{SCORE_SORT_REFUSED} {GEO_SORT_REFUSED}")
def test_search_body_with_the_former_sort_entries() -> None:
    assert_valid("POST", "/p-public-v1/_search", wire(BRIEF_SEARCH))


def test_search_body_refusals_are_exactly_the_two_sort_entries() -> None:
    errors = assert_refused("POST", "/p-public-v1/_search", wire(BRIEF_SEARCH), r"\$\.sort")
    assert len(errors) == 1, errors  # everything but `sort` validates
    assert r"$.sort[0]['_geo_distance'].geo: {'lat': 42.65, 'lon': -73.75} is not of type 'array'" in errors[0]
    assert "$.sort[1]: {'_score': {'order': 'desc'}} is valid under each of" in errors[0]


def test_search_body_with_the_sort_entries_the_spec_takes() -> None:
    body = json.loads(json.dumps(BRIEF_SEARCH))
    body["sort"][0]["_geo_distance"]["geo"] = [{"lat": 42.65, "lon": -73.75}]
    body["sort"][1] = {"_score": "desc"}
    assert_valid("POST", "/p-public-v1/_search", wire(body))
    body["sort"][1] = "_score"
    assert_valid("POST", "/p-public-v1/_search", wire(body))


def test_scan_body() -> None:
    body = {
        "size": 1000,
        "sort": [{"id": {"order": "asc"}}],
        "query": {"match_all": {}},
        "_source": ["src"],
        "version": True,
        "search_after": ["abc"],
    }
    assert_valid("POST", "/p-v1/_search", wire(body))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"query": {"bool": {"filter": "published"}}}, r"\$\.query\.bool\.filter: 'published' is not valid"),
        ({"query": {"bool": {"filter": [{"term": {"state": {"bogus": 1}}}]}}}, r"unknown property 'bogus'"),
        ({"query": {"bogus_query": {}}}, r"\$\.query: unknown property 'bogus_query'"),
        ({"query": {"term": {"a": 1}, "match_all": {}}}, r"\$\.query: .* has too many properties"),
        ({"aggs": {"x": {"bogus_agg": {"field": "a"}}}}, r"\$\.aggs\.x: .*'bogus_agg' was unexpected"),
        ({"aggs": {"x": {"terms": {"field": "a"}, "bogus": {}}}}, r"'bogus' was unexpected"),
        ({"size": "ten"}, r"\$\.size: 'ten' is not of type 'integer'"),
        ({"bogus_top_level": 1}, r"\$: Additional properties are not allowed \('bogus_top_level'"),
        ({"query": {"multi_match": {"query": "x", "operator": "xor"}}}, r"operator: 'xor' is not one of"),
        ({"sort": [{"id": {"order": "up"}}]}, r"\$\.sort"),
        ({"track_total_hits": "yes"}, r"\$\.track_total_hits"),
    ],
)
def test_search_refuses_wrong_bodies(body: dict[str, Any], expected: str) -> None:
    assert_refused("POST", "/p-v1/_search", wire(body), expected)


def test_count() -> None:
    assert_valid("POST", "/p-v1/_count", wire({"query": {"bool": {"filter": [{"term": {"state": "published"}}]}}}))
    assert_refused("POST", "/p-v1/_count", wire({"query": {"bool": {"filter": 5}}}), r"\$\.query\.bool\.filter")
    assert_refused("POST", "/p-v1/_count", wire({"size": 0}), r"'size' was unexpected")


def test_mget() -> None:
    assert_valid("POST", "/p-v1/_mget", wire({"ids": ["a", "b"]}))
    assert_refused("POST", "/p-v1/_mget", wire({"ids": [5], "bogus": 1}), r"\$\.ids", r"'bogus' was unexpected")


def test_bulk_index_actions_the_writers_send() -> None:
    assert_valid(
        "POST",
        "/p-v1/_bulk",
        ndjson(
            {"index": {"_id": "x", "version": 17, "version_type": "external"}},
            {"id": "x", "title": "Cozy loft"},
            {"index": {"_id": "x", "version": 17, "version_type": "external_gte"}},
            {"id": "x", "title": "Cozy loft"},
        ),
    )


def test_bulk_other_actions_and_update_bodies() -> None:
    body = ndjson(
        {"create": {"_index": "p-v1", "_id": "y"}},
        {"a": 1},
        {"update": {"_id": "y", "retry_on_conflict": 2}},
        {"doc": {"a": 2}, "doc_as_upsert": True},
        {"delete": {"_id": "z", "version": 3, "version_type": "external"}},
    )
    assert_valid("POST", "/_bulk", body)


def test_bulk_refuses_wrong_action_lines() -> None:
    errors = assert_refused(
        "POST",
        "/p-v1/_bulk",
        ndjson({"index": {"_id": 5, "version_type": "bogus"}}, {"a": 1}),
        r"bulk line 1: \$\.index\.version_type: .*'bogus' is not one of \['external', 'external_gte', 'internal'\]",
        r"bulk line 1: \$\.index\['_id'\]: 5 is not of type 'string'",
    )
    assert len(errors) == 2  # the document line is not an action
    assert_refused("POST", "/_bulk", ndjson({"upsert": {"_id": "x"}}, {"a": 1}), r"line 1: \$: .*'upsert'")
    assert_refused("POST", "/_bulk", ndjson({"index": {"_id": "x", "ttl": 5}}, {}), r"unknown property 'ttl'")
    assert_refused(
        "POST", "/_bulk", ndjson({"update": {"_id": "x", "version": 3}}, {"doc": {}}), r"unknown property 'version'"
    )


def test_bulk_checks_update_bodies_and_the_ndjson_framing() -> None:
    assert_refused(
        "POST", "/_bulk", ndjson({"update": {"_id": "x"}}, {"doc": {"a": 1}, "upsrt": {}}), r"line 2: .*'upsrt'"
    )
    assert_refused("POST", "/_bulk", ndjson({"index": {"_id": "x"}}, [1]), r"line 2: .*not a JSON object")
    assert_refused("POST", "/_bulk", ndjson({"index": {"_id": "x"}}), r"line 1: .*no source line")
    assert_refused("POST", "/_bulk", ndjson({"delete": {"_id": "x"}})[:-1], r"must end with a newline")
    assert_refused("POST", "/_bulk", b'{"index": {"_id": "x"}\n{}\n', r"line 1: not JSON")


def test_update_aliases() -> None:
    body = {
        "actions": [
            {"remove": {"index": "p-v1", "alias": "p"}},
            {"add": {"index": "p-v2", "alias": "p", "is_write_index": True}},
            {
                "add": {
                    "index": "p-v2",
                    "alias": "p-public",
                    "filter": {"bool": {"filter": [{"term": {"state": "published"}}]}},
                }
            },
        ]
    }
    assert_valid("POST", "/_aliases", wire(body))
    assert_refused("POST", "/_aliases", wire({"actions": [{"rename": {"index": "p-v1", "alias": "p"}}]}), r"'rename'")
    assert_refused(
        "POST",
        "/_aliases",
        wire({"actions": [{"add": {"index": "p-v2", "alias": "p", "writable": True}}]}),
        r"'writable'",
    )


def test_indices_create() -> None:
    body = {
        "aliases": {
            "p-public-v1": {"filter": {"bool": {"filter": [{"term": {"deleted": False}}]}}},
            "p": {"is_write_index": True},
        }
    }
    assert_valid("PUT", "/p-v1", wire(body))
    assert_refused("PUT", "/p-v1", wire({"aliases": {"p": {"is_write_index": "yes"}}}), r"is_write_index")
    assert_refused("PUT", "/p-v1", wire({"mappings": {"properties": {"a": {"type": "strng"}}}}), r"type: 'strng'")


BRIEF_TEMPLATE: dict[str, Any] = {
    "index_patterns": ["p-v*"],
    "priority": 200,
    "template": {
        "settings": {
            "index": {
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "refresh_interval": "1s",
                "analysis": {
                    "filter": {"edge": {"type": "edge_ngram", "min_gram": 3, "max_gram": 20}},
                    "analyzer": {
                        "folded": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}
                    },
                },
            }
        },
        "mappings": {
            "dynamic": False,
            "_meta": {"layout": 3},
            "properties": {
                "title": {
                    "type": "text",
                    "analyzer": "folded",
                    "fields": {"prefix": {"type": "text", "analyzer": "folded"}},
                },
                "geo": {"type": "geo_point"},
                "avail": {"type": "nested", "properties": {"k": {"type": "integer"}}},
                "src": {"type": "object", "enabled": False},
            },
        },
    },
    "_meta": {"owner": "listing-search", "layout": 3},
}


def test_put_index_template() -> None:
    assert_valid("PUT", "/_index_template/p-template", wire(BRIEF_TEMPLATE))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"priority": "high"}, r"\$\.priority: 'high' is not of type 'integer'"),
        ({"index_pattern": ["p-v*"]}, r"'index_pattern' was unexpected"),
        ({"template": {"mappings": {"properties": {"geo": {"type": "geo_point", "analyzer": "x"}}}}}, r"'analyzer'"),
        ({"template": {"mappings": {"properties": {"a": {"type": "text", "analyzer": 5}}}}}, r"analyzer: 5 is not"),
        (
            {"template": {"settings": {"analysis": {"filter": {"e": {"type": "edge_ngram", "min_gram": "x"}}}}}},
            r"min_gram: 'x' is not of type 'integer'",
        ),
        (
            {"template": {"settings": {"analysis": {"analyzer": {"a": {"type": "custom", "tokeniser": "standard"}}}}}},
            r"unknown property 'tokeniser'",
        ),
    ],
)
def test_put_index_template_refuses_wrong_bodies(change: dict[str, Any], expected: str) -> None:
    assert_refused("PUT", "/_index_template/p-template", wire({**BRIEF_TEMPLATE, **change}), expected)


def test_put_mapping() -> None:
    assert_valid("PUT", "/p-v1/_mapping", wire({"_meta": {"schemas": [], "fingerprint": "x"}}))
    assert_refused("PUT", "/p-v1/_mapping", wire({"_meta": "x"}), r"\$\['_meta'\]: 'x' is not of type 'object'")
    assert_refused("PUT", "/p-v1/_mapping", wire({"mappings": {"_meta": {}}}), r"'mappings' was unexpected")


# --- the bodies the real builders make ---------------------------------------------------------

SCHEMAS = SchemaSet(
    [
        SearchSchema(key="listingType", scope="public", type="enum", default="Private room"),
        SearchSchema(key="amenities", scope="public", type="multi-enum", default=["wifi"]),
        SearchSchema(key="pets", scope="public", type="boolean", default=False),
        SearchSchema(key="guests", scope="public", type="long", default=2),
        SearchSchema(key="tier", scope="metadata", type="enum"),
        SearchSchema(key="notes", scope="metadata", type="text"),
    ]
)
_START = utc_today() + timedelta(days=2)
_END = _START + timedelta(days=3)
_WINDOW = [("start", _START.isoformat()), ("end", _END.isoformat())]

# Parameters that, together, make every clause dsl.py can build: ids, author, every extended filter
# mode (enum `terms`, multi-enum `has_any`/`has_all`, boolean `term`, long `range` and exact `term`,
# each with its "missing counts as the default" `bool`), bounds, both availability modes, stock in
# both modes, price ranges, facets of every kind (so post_filter and filtered aggregations), sorts.
QUERIES: dict[str, list[tuple[str, str]]] = {
    "plain": [],
    "filters": [
        ("price", "5000,20000"),
        ("ids", "11111111-1111-4111-8111-111111111111"),
        ("authorId", "22222222-2222-4222-8222-222222222222"),
        ("pub_listingType", "Private room,Entire place"),
        ("pub_amenities", "has_any:wifi,pool"),
        ("pub_pets", "false"),
        ("pub_guests", "2,5"),
        ("meta_tier", "gold"),
        ("bounds", "42.7,-73.7,42.6,-73.8"),
        *_WINDOW,
        ("seats", "2"),
        ("minStock", "1"),
        ("stockMode", "match-undefined"),
        ("facets", "price,pub_listingType,pub_amenities,pub_pets,pub_guests,meta_tier"),
        ("page", "2"),
        ("perPage", "10"),
    ],
    "exact": [("price", "5000"), ("pub_guests", "3"), ("pub_amenities", "has_all:wifi,pool"), ("minStock", "2")],
    "partial": [*_WINDOW, ("availability", "day-partial"), ("minDuration", "1")],
    "sorted": [("sort", "-price,pub_guests,createdAt"), ("pub_pets", "true"), ("facets", "pub_pets")],
    "keywords_sorted": [("keywords", "cozy loft"), ("sort", "createdAt")],
    # Relevance and distance order: dsl.py writes these sort entries in the forms the spec takes.
    "keywords": [("keywords", "cozy loft"), ("facets", "price")],
    "origin": [("origin", "42.65,-73.75"), ("bounds", "42.7,-73.7,42.6,-73.8")],
    "origin_keywords": [("origin", "42.65,-73.75"), ("keywords", "loft")],
}


@pytest.mark.parametrize("items", [pytest.param(items, id=name) for name, items in QUERIES.items()])
def test_public_search_bodies(items: list[tuple[str, str]]) -> None:
    assert_valid("POST", "/p-public-v1/_search", wire(search_body(parse_listing_query(items, SCHEMAS))))


class _Recorder:
    """An engine stand-in that records each body as (method, path, wire bytes)."""

    def __init__(self, pages: list[list[dict[str, Any]]] | None = None) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.pages = list(pages or [])
        self.indices = SimpleNamespace(
            exists=lambda index: False,
            create=lambda index, body: self.sent.append(("PUT", f"/{index}", wire(body))),
            put_index_template=lambda name, body: self.sent.append(("PUT", f"/_index_template/{name}", wire(body))),
            update_aliases=lambda body: self.sent.append(("POST", "/_aliases", wire(body))),
        )

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(("POST", f"/{index}/_search", wire(body)))
        return {"hits": {"hits": self.pages.pop(0) if self.pages else []}}


def _assert_all_valid(sent: list[tuple[str, str, bytes]]) -> None:
    assert sent
    errors = [f"{method} {path}: {error}" for method, path, body in sent for error in body_errors(method, path, body)]
    assert errors == [], "\n".join(errors)


def test_lifecycle_bodies() -> None:
    engine = _Recorder()
    settings = cast(Settings, SimpleNamespace(refresh_interval="1s", shards=1, replicas=0))
    names = IndexNames("p")
    lifecycle.create_index(engine, settings, names, 1, SCHEMAS, live=True)  # type: ignore[arg-type]
    lifecycle.create_index(engine, settings, names, 2, SchemaSet(list(DEFAULT_SCHEMAS)), live=False)  # type: ignore[arg-type]
    lifecycle.swap_aliases(engine, names, "p-v1", "p-v2")  # type: ignore[arg-type]
    lifecycle.swap_aliases(engine, names, None, "p-v1")  # type: ignore[arg-type]
    assert [path for _, path, _ in engine.sent] == [
        "/_index_template/p-template",
        "/p-v1",
        "/_index_template/p-template",
        "/p-v2",
        "/_aliases",
        "/_aliases",
    ]
    _assert_all_valid(engine.sent)


def test_put_mapping_metadata_body() -> None:
    # lifecycle.set_live_schemas: the index's `_meta` with the new schemas (read from the engine first).
    meta = {**mappings(SCHEMAS)["_meta"], "schemas": SCHEMAS.as_json(), "fingerprint": SCHEMAS.fingerprint()}
    assert_valid("PUT", "/p-v1/_mapping", wire({"_meta": meta}))


def test_template_settings_and_mappings_directly() -> None:
    body = {
        "index_patterns": ["p-v*"],
        "template": {
            "settings": index_settings(refresh_interval="30s", shards=3, replicas=2),
            "mappings": mappings(SCHEMAS),
        },
    }
    assert_valid("PUT", "/_index_template/p-template", wire(body))


def test_schema_registry_index_body() -> None:
    engine = _Recorder()
    schema_registry._ensure_index(engine, IndexNames("p"))  # type: ignore[arg-type]
    assert [path for _, path, _ in engine.sent] == ["/p-registry"]
    _assert_all_valid(engine.sent)


@pytest.mark.parametrize(
    ("query", "source", "version"),
    [
        (None, [F.SOURCE], True),  # rebuild copy
        (None, [F.SOURCE], False),  # re-sync
        ({"bool": {"must_not": [{"term": {F.DELETED: True}}]}}, None, False),  # reconcile
        (
            {
                "bool": {
                    "filter": [{"exists": {"field": F.PLAN_TYPE}}, {"range": {F.HORIZON_FROM: {"lt": "2026-01-01"}}}]
                }
            },
            False,
            False,
        ),  # horizon roll
    ],
)
def test_scan_pages(query: dict[str, Any] | None, source: list[str] | bool | None, version: bool) -> None:
    engine = _Recorder(pages=[[{"_id": "a", "sort": ["a"]}], [{"_id": "b", "sort": ["b"]}]])
    pages = list(pages_by_id(engine, "p-v1", size=1000, query=query, source=source, version=version))  # type: ignore[arg-type]
    assert len(pages) == 2 and len(engine.sent) == 3  # the last page is empty
    assert b"search_after" in engine.sent[1][2]
    _assert_all_valid(engine.sent)


def test_status_bodies() -> None:
    # indexer/ops/status.py: the published count and the skipped-values aggregation.
    assert_valid("POST", "/p-v1/_count", wire({"query": {"bool": {"filter": public_filter()}}}))
    assert_valid(
        "POST", "/p-v1/_search", wire({"size": 0, "aggs": {"skipped": {"terms": {"field": F.SKIPPED, "size": 500}}}})
    )


@pytest.mark.parametrize("version", [None, 3, 10, 11])
def test_document_writes(version: int | None) -> None:
    # index_op: external when the event is newer than the stored version, else external_gte.
    doc = {F.ID: "x", F.SEQ: 10, F.TITLE: "Cozy loft", F.GEO: {"lat": 42.6, "lon": -73.7}}
    assert_valid("POST", "/p-v1/_bulk", index_op("x", doc, version) + index_op("y", {**doc, F.ID: "y"}, version))
