"""Operator search schemas: which extended-data keys are searchable, and how.

A schema says "`publicData.<key>` (scope public, query `pub_<key>`) or `metadata.<key>` (scope
metadata, query `meta_<key>`) is of type T". It drives three things that must agree: the index
mapping, the values written into documents, and the query parameters accepted.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SchemaType = Literal["enum", "multi-enum", "boolean", "long", "text"]
Scope = Literal["public", "metadata"]
SCHEMA_TYPES: Final = ("enum", "multi-enum", "boolean", "long", "text")
SCOPES: Final = ("public", "metadata")

# Where each scope's values live in a listing, under which index object, and the query prefix.
SCOPE_SOURCE: Final = {"public": "publicData", "metadata": "metadata"}
SCOPE_FIELD: Final = {"public": "pub", "metadata": "meta"}
SCOPE_PARAM: Final = {"public": "pub_", "metadata": "meta_"}

KEY_PATTERN: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_SCHEMAS: Final = 200
LONG_MIN: Final = -(2**63)
LONG_MAX: Final = 2**63 - 1
MAX_ENUM_CHARS: Final = 256


class SearchSchema(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    scope: Scope
    type: SchemaType
    # Checked against `type` below, so the error says what the type needs.
    default: Any = None
    doc: str | None = Field(default=None, max_length=1000)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not KEY_PATTERN.match(value):
            raise ValueError("key: letters, digits and _, starting with a letter, at most 64 characters, no dots")
        return value

    @model_validator(mode="after")
    def _default_matches_type(self) -> SearchSchema:
        if self.default is not None:
            problem = value_problem(self.type, self.default)
            if self.type == "text":
                problem = "text schemas take no default"
            if problem:
                raise ValueError(f"default: {problem}")
        return self

    @property
    def param(self) -> str:
        return SCOPE_PARAM[self.scope] + self.key

    @property
    def field(self) -> str:
        return f"{SCOPE_FIELD[self.scope]}.{self.key}"

    @property
    def path(self) -> str:
        """The registry's identity for a schema: `public/listingType`."""
        return f"{self.scope}/{self.key}"

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


def value_problem(schema_type: str, value: object) -> str | None:
    """Why `value` cannot be indexed as `schema_type`, or None when it can."""
    if schema_type == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if schema_type == "long":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        return None if LONG_MIN <= value <= LONG_MAX else "out of the 64-bit integer range"
    if schema_type in ("enum", "text"):
        if not isinstance(value, str):
            return "must be a string"
        return None if schema_type == "text" or len(value) <= MAX_ENUM_CHARS else "longer than 256 characters"
    if schema_type == "multi-enum":
        if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= MAX_ENUM_CHARS for v in value):
            return "must be a list of strings"
        return None
    return f"unknown type {schema_type!r}"


def parse_default(schema_type: str, raw: str) -> str | int | bool | list[str]:
    """A default given as text (CLI flag): `true`, `42`, `a,b` for multi-enum."""
    if schema_type == "boolean":
        if raw not in ("true", "false"):
            raise ValueError("default: must be true or false")
        return raw == "true"
    if schema_type == "long":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("default: must be an integer") from None
    if schema_type == "multi-enum":
        return [v.strip() for v in raw.split(",") if v.strip()]
    return raw


class SchemaSet:
    """An immutable set of schemas, indexed by query parameter name."""

    def __init__(self, schemas: list[SearchSchema] | tuple[SearchSchema, ...] = ()) -> None:
        self.schemas = tuple(sorted(schemas, key=lambda s: (s.scope, s.key)))
        self.by_param = {s.param: s for s in self.schemas}

    def __iter__(self) -> Any:
        return iter(self.schemas)

    def __len__(self) -> int:
        return len(self.schemas)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SchemaSet) and self.schemas == other.schemas

    def __hash__(self) -> int:
        return hash(self.schemas)

    def get(self, param: str) -> SearchSchema | None:
        return self.by_param.get(param)

    def of_type(self, *types: str) -> list[SearchSchema]:
        return [s for s in self.schemas if s.type in types]

    def as_json(self) -> list[dict[str, Any]]:
        return [s.as_json() for s in self.schemas]

    @classmethod
    def from_json(cls, items: list[dict[str, Any]]) -> SchemaSet:
        return cls([SearchSchema.model_validate(item) for item in items])

    def fingerprint(self) -> str:
        """What the index mapping depends on (types, not docs or defaults): equal ⇒ no rebuild."""
        shape = [(s.scope, s.key, s.type) for s in self.schemas]
        return hashlib.sha256(orjson.dumps(shape)).hexdigest()[:16]


# Present on a fresh install so `pub_listingType=...` works out of the box (contract §3).
DEFAULT_SCHEMAS: Final = (SearchSchema(key="listingType", scope="public", type="enum", doc="Listing type"),)


def extract_values(schemas: SchemaSet, listing: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Typed values for the index and the schema paths whose value had the wrong type.

    A wrong-typed value is skipped for this listing only: the listing stays searchable and the
    key behaves as missing (so its default applies).
    """
    out: dict[str, dict[str, Any]] = {"pub": {}, "meta": {}}
    skipped: list[str] = []
    for schema in schemas:
        data = listing.get(SCOPE_SOURCE[schema.scope]) or {}
        if schema.key not in data or data[schema.key] is None:
            continue
        value = data[schema.key]
        if value_problem(schema.type, value) is not None:
            skipped.append(schema.path)
            continue
        out[SCOPE_FIELD[schema.scope]][schema.key] = value
    return out, skipped
