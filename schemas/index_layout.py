"""The index layout: every field name, the analysis chain, the mapping and index naming.

This is the only module that spells index field names. The writer builds documents with these
names and the reader queries them, so a rename is one edit here.
"""

from __future__ import annotations

from typing import Any, Final

from schemas.search_schema import SCOPE_FIELD, SchemaSet

# Bump when the mapping changes in a way that needs a rebuild of existing indices.
LAYOUT_VERSION: Final = 2


class F:
    """Index field names."""

    ID: Final = "id"
    SEQ: Final = "seq"
    STATE: Final = "state"
    DELETED: Final = "deleted"
    TITLE: Final = "title"
    DESCRIPTION: Final = "description"
    CREATED_AT: Final = "createdAt"
    PRICE: Final = "priceAmount"
    CURRENCY: Final = "priceCurrency"
    AUTHOR: Final = "authorId"
    GEO: Final = "geo"
    PUBLIC_DATA: Final = "pub"
    METADATA: Final = "meta"
    # Schema paths (`public/guests`) whose value had the wrong type in this listing.
    SKIPPED: Final = "skipped"
    # "day" | "time": which availability modes can match.
    PLAN_TYPE: Final = "planType"
    # Nested runs {k, start, end, len}: maximal intervals with >= k free seats (schemas.availability).
    AVAILABILITY: Final = "avail"
    # The day the availability horizon starts; the daily roll refreshes documents older than today.
    HORIZON_FROM: Final = "availFrom"
    # Sub-fields of each run.
    RUN_LEVEL: Final = "k"
    RUN_START: Final = "start"
    RUN_END: Final = "end"
    RUN_LENGTH: Final = "len"
    # Available stock; absent when the listing has no stock defined.
    STOCK: Final = "stock"
    # Everything needed to rebuild or render the listing; stored, never indexed.
    SOURCE: Final = "src"
    PREFIX_SUBFIELD: Final = "prefix"


PUBLISHED_STATE: Final = "published"

# Longest word prefix indexed for partial-word matching; longer words still match whole.
PREFIX_MAX_GRAM: Final = 20
PREFIX_MIN_GRAM: Final = 3

ANALYSIS: Final[dict[str, Any]] = {
    "filter": {
        "word_prefixes": {"type": "edge_ngram", "min_gram": PREFIX_MIN_GRAM, "max_gram": PREFIX_MAX_GRAM},
    },
    "analyzer": {
        # Accents folded both at index and query time: "cafe" finds "Café".
        "folded": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
        "folded_prefixes": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", "word_prefixes"],
        },
    },
}


def _text_field() -> dict[str, Any]:
    return {
        "type": "text",
        "analyzer": "folded",
        "fields": {F.PREFIX_SUBFIELD: {"type": "text", "analyzer": "folded_prefixes", "search_analyzer": "folded"}},
    }


_SCHEMA_FIELD_TYPES: Final = {"enum": "keyword", "multi-enum": "keyword", "boolean": "boolean", "long": "long"}


def schema_field(schema_type: str) -> dict[str, Any]:
    return _text_field() if schema_type == "text" else {"type": _SCHEMA_FIELD_TYPES[schema_type]}


def mappings(schemas: SchemaSet) -> dict[str, Any]:
    """`dynamic: false` everywhere: only declared schema keys are mapped, never arbitrary user data.

    `_meta` records the schemas an index was built with, so readers and writers use exactly the
    set that index's mapping has, whatever the registry says meanwhile.
    """
    scoped: dict[str, dict[str, Any]] = {field: {} for field in SCOPE_FIELD.values()}
    for schema in schemas:
        scoped[SCOPE_FIELD[schema.scope]][schema.key] = schema_field(schema.type)
    return {
        "dynamic": False,
        "_meta": {"layout": LAYOUT_VERSION, "schemas": schemas.as_json(), "fingerprint": schemas.fingerprint()},
        "properties": {
            F.ID: {"type": "keyword"},
            F.SEQ: {"type": "long"},
            F.STATE: {"type": "keyword"},
            F.DELETED: {"type": "boolean"},
            F.TITLE: _text_field(),
            F.DESCRIPTION: _text_field(),
            F.CREATED_AT: {"type": "date"},
            F.PRICE: {"type": "long"},
            F.CURRENCY: {"type": "keyword"},
            F.AUTHOR: {"type": "keyword"},
            F.GEO: {"type": "geo_point"},
            F.PUBLIC_DATA: {"type": "object", "dynamic": False, "properties": scoped[F.PUBLIC_DATA]},
            F.METADATA: {"type": "object", "dynamic": False, "properties": scoped[F.METADATA]},
            F.SKIPPED: {"type": "keyword"},
            F.PLAN_TYPE: {"type": "keyword"},
            F.AVAILABILITY: {
                "type": "nested",
                "properties": {
                    F.RUN_LEVEL: {"type": "integer"},
                    F.RUN_START: {"type": "date", "format": "epoch_millis"},
                    F.RUN_END: {"type": "date", "format": "epoch_millis"},
                    F.RUN_LENGTH: {"type": "long"},  # minutes
                },
            },
            F.HORIZON_FROM: {"type": "date", "format": "strict_date"},
            F.STOCK: {"type": "long"},
            F.SOURCE: {"type": "object", "enabled": False},
        },
    }


def index_settings(*, refresh_interval: str, shards: int, replicas: int) -> dict[str, Any]:
    return {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        "refresh_interval": refresh_interval,
        "max_result_window": MAX_RESULT_WINDOW,
        "analysis": ANALYSIS,
    }


# from + size never goes past this; `paginationLimit` is derived from it.
MAX_RESULT_WINDOW: Final = 10_000


def public_filter() -> list[dict[str, Any]]:
    """The one definition of "visible to the public": published and not deleted."""
    return [
        {"term": {F.STATE: PUBLISHED_STATE}},
        {"term": {F.DELETED: False}},
    ]


class IndexNames:
    """`<prefix>` is the read/write alias, `<prefix>-public` the filtered alias, `<prefix>-vN` the indices.

    Each index also has its own filtered alias `<prefix>-public-vN`, so a reader holding a
    (index, schemas) pair can query exactly that index through the visibility filter.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.alias = prefix
        self.public_alias = f"{prefix}-public"
        self.template = f"{prefix}-template"
        self.pattern = f"{prefix}-v*"

    def versioned(self, version: int) -> str:
        return f"{self.prefix}-v{version}"

    def public_of(self, version: int) -> str:
        return f"{self.prefix}-public-v{version}"

    @property
    def registry(self) -> str:
        """The search-schema registry: one document, outside the `-v*` pattern."""
        return f"{self.prefix}-registry"

    def version_of(self, index: str) -> int | None:
        head, sep, tail = index.rpartition("-v")
        if not sep or head != self.prefix or not (tail.isascii() and tail.isdigit()):
            return None
        return int(tail)
