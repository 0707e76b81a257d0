"""The public search parameters as the API reference shows them: one table, which parsing also
reads to know which names exist (`KNOWN`), so a parameter is never documented and refused, or
accepted and undocumented."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from schemas.availability import MODES
from schemas.listing_doc import PUBLIC_ATTRIBUTES
from search_api.search.limits import (
    DEFAULT_FACET_LIMIT,
    DEFAULT_PER_PAGE,
    MAX_FACET_LIMIT,
    MAX_FACETS,
    MAX_IDS,
    MAX_KEYWORD_WORDS,
    MAX_KEYWORDS_CHARS,
    MAX_PER_PAGE,
    MAX_SORT_KEYS,
)


@dataclass(frozen=True)
class ParamSpec:
    name: str
    schema: dict[str, Any]
    description: str
    example: str | None = None


QUERY_PARAMS: Final = (
    ParamSpec(
        "keywords",
        {"type": "string", "maxLength": MAX_KEYWORDS_CHARS},
        f"Free text, at most {MAX_KEYWORD_WORDS} words and {MAX_KEYWORDS_CHARS} characters by default "
        "(`LISTING_SEARCH_MAX_KEYWORDS_CHARS`). "
        "A listing matches if any word matches its title, description or a `text` search "
        "schema field (title weighs most). Accents are folded, word prefixes of 3+ characters match, and "
        "words of 5+ characters tolerate one typo. Results are ordered by relevance unless `sort` is given. "
        "A blank value is the same as no keywords.",
        "cozy cottage",
    ),
    ParamSpec(
        "price",
        {"type": "string", "pattern": r"^(\d+|\d*,\d*)$"},
        "Price in minor units (cents): `v` (exact), `min,max`, `min,` or `,max`. Min inclusive, max "
        "exclusive; currency is ignored.",
        "5000,20000",
    ),
    ParamSpec(
        "ids",
        {"type": "string"},
        f"Comma-separated listing UUIDs, at most {MAX_IDS} by default (`LISTING_SEARCH_MAX_IDS`). Only "
        "published listings are returned.",
    ),
    ParamSpec("authorId", {"type": "string", "format": "uuid"}, "Only listings of this author (user UUID)."),
    ParamSpec(
        "origin",
        {"type": "string"},
        "`lat,lng`. Does not filter: sorts nearest first. With `keywords`, distance orders and relevance "
        "breaks ties; an explicit `sort` wins over both and distance then breaks its ties. Listings "
        "without a location come last.",
        "42.65,-73.75",
    ),
    ParamSpec(
        "bounds",
        {"type": "string"},
        "`neLat,neLng,swLat,swLng`: only listings inside the box. A box whose west edge (swLng) is "
        "east of its east edge (neLng) crosses the antimeridian.",
        "42.7,-73.7,42.6,-73.8",
    ),
    ParamSpec(
        "start",
        {"type": "string", "format": "date-time"},
        "Availability window start (ISO-8601 with offset, or a date = 00:00 UTC). Needs `end`. The "
        "window is at most 90 days and inside today .. today + 365 days (UTC).",
        "2027-01-10T00:00:00Z",
    ),
    ParamSpec("end", {"type": "string", "format": "date-time"}, "Availability window end, after `start`."),
    ParamSpec(
        "availability",
        {"type": "string", "enum": list(MODES), "default": "day-full"},
        "`day-full`: free seats on every day of the window (day plans; whole UTC days). `time-full`: at "
        "every instant (time plans). `day-partial` / `time-partial`: some stretch of at least "
        "`minDuration` days / minutes inside the window. Listings without a plan never match dates.",
    ),
    ParamSpec("seats", {"type": "integer", "minimum": 1, "default": 1}, "Seats that must be free (with dates)."),
    ParamSpec(
        "minDuration",
        {"type": "integer", "minimum": 0, "default": 0},
        "Partial modes: days (day-partial) or minutes (time-partial); 0 = any stretch (one day / minute).",
    ),
    ParamSpec("minStock", {"type": "integer", "minimum": 0}, "Only listings with at least this much stock."),
    ParamSpec(
        "stockMode",
        {"type": "string", "enum": ["strict", "match-undefined"], "default": "strict"},
        "With `minStock`: `match-undefined` also returns listings that have no stock defined.",
    ),
    ParamSpec(
        "sort",
        {"type": "string"},
        f"Comma-separated, at most {MAX_SORT_KEYS} keys from `createdAt`, `price` and `pub_<key>`/`meta_<key>` "
        "of `long` search schemas (listings lacking the key sort as its default, else last). No prefix sorts "
        "descending, a `-` prefix ascending (`-price` is cheapest first). Default: `createdAt` (newest "
        "first), or relevance when `keywords` is given. Ties are broken by listing id.",
        "-price,createdAt",
    ),
    ParamSpec(
        "page", {"type": "integer", "minimum": 1, "default": 1}, "Page number, from 1 up to `meta.paginationLimit`."
    ),
    ParamSpec(
        "perPage",
        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE},
        f"Listings per page, 1 to {MAX_PER_PAGE}.",
    ),
    ParamSpec(
        "facets",
        {"type": "string"},
        f"Comma-separated, at most {MAX_FACETS} keys: `price` and `pub_<key>`/`meta_<key>` of `enum`, "
        "`multi-enum`, `boolean` and `long` search schemas. Adds `meta.facets`: for enum-like keys the values "
        "with their listing counts (count descending, then value ascending; at most `facetLimit`) and "
        "`otherValues`, the number of further distinct values; for `price` and `long` keys `min`, `max` "
        "(null when no listing has a value) and `count`. Counts honour every other filter of the query; "
        "a key's own filter is ignored when it is a choice among alternatives (`enum`, `multi-enum` "
        "`has_any:`, `boolean`, the ranges of `price` and `long`), but not for `multi-enum` `has_all:` "
        "(or the plain list). A listing lacking the key (or holding a wrong-typed value) counts under the "
        "schema's default. Facets never change `data` or the paging figures.",
        "pub_listingType,price",
    ),
    ParamSpec(
        "facetLimit",
        {"type": "integer", "minimum": 1, "maximum": MAX_FACET_LIMIT, "default": DEFAULT_FACET_LIMIT},
        f"Most values returned per enum-like facet, 1 to {MAX_FACET_LIMIT}.",
    ),
    ParamSpec(
        "fields.listing",
        {"type": "string"},
        "Sparse attributes: comma-separated attribute names (" + ", ".join(PUBLIC_ATTRIBUTES) + "), "
        "or one key of extended data such as `publicData.listingType`.",
        "title,price,publicData.listingType",
    ),
    ParamSpec(
        "include",
        {"type": "string"},
        "Relationships to fill, as Flex does: `author` (the author's id, and a user entity in `included` "
        "with an empty profile) and `images` (the listing's image ids in order, and image entities with no "
        "variants). Profiles, variants and stock live in Flex: `author.profileImage` (which includes `author`, "
        "as any path includes the resources on its way) and `currentStock` are accepted and left out. "
        "Without `include`, `relationships.author` holds the author's id.",
        "author,images",
    ),
    ParamSpec(
        "limit.images",
        {"type": "integer", "minimum": 0},
        "Most image ids per listing with `include=images`.",
        "1",
    ),
)

KNOWN: Final = frozenset(p.name for p in QUERY_PARAMS)


def openapi_parameters(specs: tuple[ParamSpec, ...] = QUERY_PARAMS) -> list[dict[str, Any]]:
    out = []
    for spec in specs:
        param: dict[str, Any] = {
            "name": spec.name,
            "in": "query",
            "required": False,
            "schema": spec.schema,
            "description": spec.description,
        }
        if spec.example is not None:
            param["example"] = spec.example
        out.append(param)
    return out
