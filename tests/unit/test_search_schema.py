"""Search schema validation, value extraction, and filter semantics with defaults (property tests
against a small evaluator of the query DSL subset we emit)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.index_layout import mappings
from schemas.search_schema import SchemaSet, SearchSchema, extract_values, parse_default
from search_api.errors import ApiError
from search_api.search.dsl import extended_clause
from search_api.search.parse import parse_listing_query


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "a.b", "type": "enum"}, "key"),
        ({"key": "_x", "type": "enum"}, "key"),
        ({"key": "x" * 65, "type": "enum"}, "key"),
        ({"key": "x", "type": "long", "default": "1"}, "integer"),
        ({"key": "x", "type": "long", "default": True}, "integer"),
        ({"key": "x", "type": "boolean", "default": 1}, "true or false"),
        ({"key": "x", "type": "multi-enum", "default": "a"}, "list"),
        ({"key": "x", "type": "text", "default": "a"}, "no default"),
        ({"key": "x", "type": "enum", "default": 3}, "string"),
    ],
)
def test_invalid_schemas(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SearchSchema(scope="public", **kwargs)


def test_parse_default_from_cli_text() -> None:
    assert parse_default("boolean", "true") is True
    assert parse_default("long", "-4") == -4
    assert parse_default("multi-enum", "a, b,") == ["a", "b"]
    with pytest.raises(ValueError, match="integer"):
        parse_default("long", "four")


def test_extract_values_skips_wrong_types() -> None:
    schemas = SchemaSet(
        [
            SearchSchema(key="g", scope="public", type="long"),
            SearchSchema(key="am", scope="public", type="multi-enum"),
            SearchSchema(key="ok", scope="metadata", type="boolean"),
        ]
    )
    values, skipped = extract_values(
        schemas, {"publicData": {"g": "2", "am": ["a", "b"], "other": 1}, "metadata": {"ok": True}}
    )
    assert values == {"pub": {"am": ["a", "b"]}, "meta": {"ok": True}}
    assert skipped == ["public/g"]


def test_mapping_has_exactly_the_schema_keys() -> None:
    schemas = SchemaSet(
        [SearchSchema(key="t", scope="public", type="text"), SearchSchema(key="n", scope="metadata", type="long")]
    )
    m = mappings(schemas)
    assert set(m["properties"]["pub"]["properties"]) == {"t"} and m["properties"]["pub"]["dynamic"] is False
    assert m["properties"]["meta"]["properties"] == {"n": {"type": "long"}}
    assert m["_meta"]["fingerprint"] == schemas.fingerprint()


def test_fingerprint_ignores_docs_and_defaults() -> None:
    a = SchemaSet([SearchSchema(key="k", scope="public", type="long")])
    b = SchemaSet([SearchSchema(key="k", scope="public", type="long", default=3, doc="d")])
    c = SchemaSet([SearchSchema(key="k", scope="public", type="enum")])
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


# A tiny evaluator for the DSL subset extended_clause emits, so the semantics can be checked
# against a direct statement of the contract.
def evaluate(clause: dict[str, Any], doc: dict[str, Any]) -> bool:
    ((kind, body),) = clause.items()
    if kind == "term":
        ((field, value),) = body.items()
        return value in _values(doc, field)
    if kind == "terms":
        ((field, options),) = body.items()
        return bool(set(options) & set(_values(doc, field)))
    if kind == "range":
        ((field, bounds),) = body.items()
        vals = _values(doc, field)
        return any(v >= bounds.get("gte", -(10**20)) and v < bounds.get("lt", 10**20) for v in vals)
    if kind == "exists":
        return bool(_values(doc, body["field"]))
    if kind == "bool":
        ok = all(evaluate(c, doc) for c in body.get("filter", []))
        ok = ok and not any(evaluate(c, doc) for c in body.get("must_not", []))
        if "should" in body:
            ok = ok and sum(evaluate(c, doc) for c in body["should"]) >= body.get("minimum_should_match", 1)
        return ok
    raise AssertionError(kind)


def _values(doc: dict[str, Any], field: str) -> list[Any]:
    value = doc.get(field)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


WORDS = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def cases(draw: st.DrawFn) -> tuple[SearchSchema, str, Any, bool]:
    """(schema, query text, indexed value or None, expected match)"""
    kind = draw(st.sampled_from(["enum", "multi-enum", "boolean", "long"]))
    if kind == "enum":
        default = draw(st.none() | WORDS)
        value = draw(st.none() | WORDS)
        options = draw(st.lists(WORDS, min_size=1, max_size=3, unique=True))
        effective = default if value is None else value
        expected = effective is not None and effective in options
        query = ",".join(options)
    elif kind == "multi-enum":
        default = draw(st.none() | st.lists(WORDS, max_size=3, unique=True))
        value = draw(st.none() | st.lists(WORDS, min_size=1, max_size=3, unique=True))
        options = draw(st.lists(WORDS, min_size=1, max_size=3, unique=True))
        mode = draw(st.sampled_from(["has_all:", "has_any:", ""]))
        effective = default if value is None else value
        if effective is None:
            expected = False
        elif mode == "has_any:":
            expected = bool(set(options) & set(effective))
        else:
            expected = set(options) <= set(effective)
        query = mode + ",".join(options)
    elif kind == "boolean":
        default = draw(st.none() | st.booleans())
        value = draw(st.none() | st.booleans())
        wanted = draw(st.booleans())
        effective = default if value is None else value
        expected = effective is not None and effective == wanted
        query = "true" if wanted else "false"
    else:
        default = draw(st.none() | st.integers(-5, 5))
        value = draw(st.none() | st.integers(-5, 5))
        lo, hi = draw(st.integers(-6, 6)), draw(st.integers(-6, 6))
        form = draw(st.sampled_from(["exact", "both", "min", "max"]))
        if form == "both" and hi <= lo:
            hi = lo + 1
        query = {"exact": f"{lo}", "both": f"{lo},{hi}", "min": f"{lo},", "max": f",{hi}"}[form]
        effective = default if value is None else value
        inside = {
            "exact": lambda v: v == lo,
            "both": lambda v: lo <= v < hi,
            "min": lambda v: v >= lo,
            "max": lambda v: v < hi,
        }[form]
        expected = effective is not None and inside(effective)
    schema = SearchSchema(key="k", scope="public", type=kind, default=default)  # type: ignore[arg-type]
    return schema, query, value, expected


@settings(max_examples=600, deadline=None)
@given(cases())
def test_filter_with_default_matches_the_contract(case: tuple[SearchSchema, str, Any, bool]) -> None:
    schema, query, value, expected = case
    q = parse_listing_query([(schema.param, query)], SchemaSet([schema]))
    [f] = q.extended
    doc = {} if value is None else {schema.field: value}
    assert evaluate(extended_clause(f), doc) == expected


def test_unknown_schema_key_names_the_parameter() -> None:
    with pytest.raises(ApiError) as err:
        parse_listing_query([("pub_nope", "x")], SchemaSet())
    assert err.value.param == "pub_nope"
