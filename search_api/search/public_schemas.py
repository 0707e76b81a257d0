"""The search schemas a storefront can filter by (`GET /v1/api/search-schemas`): those of the live
index, which are the ones a query is parsed with, so a filter drawn from this list is never a 400,
even while a rebuild is bringing in a new key. Defaults and everything else the operator endpoint
shows stay private."""

from __future__ import annotations

import re
from typing import Any, Final

from indexer.services import Services
from schemas.search_schema import SearchSchema
from search_api.search.unavailable import live_or_503, search_deadline


def public_schemas(services: Services) -> list[dict[str, Any]]:
    # The same lookup, budget and 503s as a search: the list is what a search would parse with.
    live = live_or_503(services, search_deadline(services))
    return [_public(schema) for schema in live.schemas]


def _public(schema: SearchSchema) -> dict[str, Any]:
    return {
        "key": schema.key,
        "scope": schema.scope,
        "type": schema.type,
        "param": schema.param,
        "label": schema.doc or words(schema.key),
    }


_WORD_START: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|_+")


def words(key: str) -> str:
    """`listingType` and `listing_type` read as "Listing type"."""
    parts = [p for p in _WORD_START.split(key) if p]
    text = " ".join(p if p.isupper() and len(p) > 1 else p.lower() for p in parts)
    return text[:1].upper() + text[1:]
