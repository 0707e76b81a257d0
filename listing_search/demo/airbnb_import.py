"""Inside Airbnb city snapshots replayed as Flex Integration API change events.

The demo, benchmarks and tests need real-looking listings without a Flex marketplace; as ordinary
`listing/created` and `availabilityException/created` events they take exactly the path production
data takes. Pure on purpose (reads files only), so it runs in tests and the CLI without Redis or
OpenSearch. Data from Inside Airbnb (http://insideairbnb.com), licensed CC BY 4.0.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

DEMO_DATA_DIR = Path(__file__).parent / "data" / "albany"
# Fixed so that re-importing the same snapshot updates the same listings instead of duplicating them.
NAMESPACE = uuid.UUID("6f1c5bb8-3f4e-4a47-9d7e-2b1f0e3c9a10")
LISTINGS_FILE = "listings_search.csv.gz"
CALENDAR_FILE = "calendar_unavailable_ranges.csv.gz"
CREATED_SPAN = timedelta(days=5 * 365)
_SOURCE = "source/console"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


@dataclass(frozen=True)
class AirbnbDataset:
    """A snapshot as read, still in CSV terms, so event building stays a separate, repeatable step."""

    listings: list[dict[str, str]]
    unavailable: dict[str, list[tuple[date, date]]]
    scrape_date: date
    city: str
    skipped_rows: int = 0
    skipped_ranges: int = 0


def _hundredths(value: str) -> int:
    """Decimal, not float: 1250.10 * 100 in binary is 125009.99..., and prices must be exact."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{value!r} is not a non-negative amount")
    return int((amount * 100).to_integral_value(ROUND_HALF_UP))


def parse_price(value: str) -> int | None:
    """Cents from "$1,250.00"; None for the empty price of an inactive listing (it stays a draft)."""
    text = value.strip().replace("$", "").replace(",", "")
    return _hundredths(text) if text else None


def _bool(value: str) -> bool:
    if value in ("t", "f"):
        return value == "t"
    raise ValueError(f"{value!r} is not t/f")


def _float(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _amenities(value: str) -> list[str]:
    items = json.loads(value)
    if not isinstance(items, list):
        raise ValueError("amenities is not a JSON list")
    # dict.fromkeys de-duplicates and keeps the order, so a multi-enum never counts a value twice.
    return list(dict.fromkeys(s.strip() for s in items if isinstance(s, str) and s.strip()))


_Fields = tuple[tuple[str, str, Callable[[str], Any]], ...]
_PUBLIC: _Fields = (
    ("listingType", "room_type", str),
    ("propertyType", "property_type", str),
    ("neighbourhood", "neighbourhood_cleansed", str),
    ("amenities", "amenities", _amenities),
    ("guests", "accommodates", int),
    ("bedrooms", "bedrooms", int),
    ("beds", "beds", int),
    ("bathrooms", "bathrooms", _float),
    ("instantBookable", "instant_bookable", _bool),
    ("minimumNights", "minimum_nights", int),
    ("maximumNights", "maximum_nights", int),
)
_METADATA: _Fields = (
    ("rating", "review_scores_rating", _hundredths),
    ("superhost", "host_is_superhost", _bool),
    ("reviews", "number_of_reviews", int),
)


def _extended(row: dict[str, str], fields: _Fields) -> dict[str, Any]:
    # An empty cell omits the key: a null in extended data would not match a schema default.
    return {key: parse(row[col].strip()) for key, col, parse in fields if row.get(col, "").strip()}


def _airbnb_id(row: dict[str, str]) -> str:
    text = row.get("id", "").strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"listing id {text!r} is not numeric")
    return str(int(text))


def _listing_attributes(row: dict[str, str]) -> dict[str, Any]:
    """Raises ValueError for a row that cannot become a valid listing, so load can skip it."""
    title = row.get("name", "").strip()
    if not title:
        raise ValueError("empty name")
    lat, lng = _float(row.get("latitude", "")), _float(row.get("longitude", ""))
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValueError(f"geolocation {lat},{lng} is out of range")
    description = _BR.sub("\n", row.get("description", "")).strip() or None
    cents = parse_price(row.get("price", ""))
    return {
        "title": title,
        "description": description,
        "geolocation": {"lat": lat, "lng": lng},
        "price": None if cents is None else {"amount": cents, "currency": "USD"},
        "publicData": _extended(row, _PUBLIC),
        "metadata": {**_extended(row, _METADATA), "source": "insideairbnb", "airbnbId": _airbnb_id(row)},
        "privateData": {},
        "state": "draft" if cents is None else "published",
        "deleted": False,
        "availabilityPlan": {
            "type": "availability-plan/day",
            "entries": [{"dayOfWeek": day, "seats": 1} for day in _DAYS],
        },
    }


def _read_csv(path: Path) -> list[dict[str, str]]:
    # newline="" because descriptions contain newlines inside quoted fields.
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        return [{k: v or "" for k, v in row.items() if isinstance(k, str)} for row in csv.DictReader(handle)]


def _scrape_date(listings: list[dict[str, str]]) -> date:
    counts: Counter[date] = Counter()
    for row in listings:
        with contextlib.suppress(ValueError):
            counts[date.fromisoformat(row.get("last_scraped", "").strip())] += 1
    if not counts:
        raise ValueError("no usable listing row with a last_scraped date")
    # Most common first; on a tie the earliest, so the choice never depends on row order.
    return min(counts, key=lambda d: (-counts[d], d))


def load_dataset(data_dir: Path) -> AirbnbDataset:
    """Bad rows are skipped and counted rather than fatal: one broken scrape row must not stop a demo."""
    listings: list[dict[str, str]] = []
    kept: set[str] = set()
    skipped_rows = 0
    for row in _read_csv(data_dir / LISTINGS_FILE):
        try:
            airbnb_id = _airbnb_id(row)
            if airbnb_id in kept:
                raise ValueError(f"duplicate listing id {airbnb_id}")
            _listing_attributes(row)
        except ValueError:
            skipped_rows += 1
            continue
        kept.add(airbnb_id)
        listings.append({**row, "id": airbnb_id})
    listings.sort(key=lambda r: int(r["id"]))

    runs: dict[str, dict[date, date]] = {}
    skipped_ranges = 0
    for row in _read_csv(data_dir / CALENDAR_FILE):
        try:
            airbnb_id = _airbnb_id({"id": row.get("listing_id", "")})
            start = date.fromisoformat(row.get("start_date", "").strip())
            end = date.fromisoformat(row.get("end_date_inclusive", "").strip())
        except ValueError:
            skipped_ranges += 1
            continue
        # A repeated start would give two exceptions the same deterministic id.
        if airbnb_id not in kept or end < start or start in runs.get(airbnb_id, {}):
            skipped_ranges += 1
            continue
        runs.setdefault(airbnb_id, {})[start] = end
    return AirbnbDataset(
        listings=listings,
        unavailable={lid: sorted(by_start.items()) for lid, by_start in runs.items()},
        scrape_date=_scrape_date(listings),
        city=data_dir.name,
        skipped_rows=skipped_rows,
        skipped_ranges=skipped_ranges,
    )


def count_events(ds: AirbnbDataset) -> int:
    """Known up front so a loader can show progress and reserve a sequence-id block."""
    return sum(1 + len(ds.unavailable.get(row["id"], [])) for row in ds.listings)


def _uuid(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


@functools.cache
def _marketplace_id(city: str) -> str:
    return _uuid(f"insideairbnb:{city}")


def _event(city: str, tail: str, seq: int, created_at: str, resource: dict[str, Any]) -> dict[str, Any]:
    """`tail` names the resource; event ids derive from it, not from `seq`, so they survive re-numbering."""
    return {
        "id": _uuid(f"insideairbnb:{city}:event:{tail}"),
        "type": "event",
        "attributes": {
            "sequenceId": seq,
            "eventType": f"{resource['type']}/created",
            "createdAt": created_at,
            "resourceId": resource["id"],
            "resourceType": resource["type"],
            "source": _SOURCE,
            "marketplaceId": _marketplace_id(city),
            "previousValues": {},
            "resource": resource,
        },
    }


def iter_events(ds: AirbnbDataset, *, today: date, first_seq: int = 1) -> Iterator[dict[str, Any]]:
    """Ids depend only on city and Airbnb ids, so replaying a snapshot is idempotent in the index.

    The snapshot has no creation dates, so listings get createdAt spread over the five years
    before `today` in Airbnb id order (ids grow over time); the calendar is moved forward by
    `today - scrape_date` so it describes the year ahead instead of the past.
    """
    if first_seq < 0:
        raise ValueError("first_seq must be >= 0")
    city = ds.city
    shift = today - ds.scrape_date
    listings = sorted(ds.listings, key=lambda r: int(r["id"]))
    step = timedelta(seconds=max(1, int(CREATED_SPAN.total_seconds()) // max(len(listings), 1)))
    origin = datetime.combine(today, time(), UTC) - CREATED_SPAN
    seq = first_seq
    for index, row in enumerate(listings):
        airbnb_id = row["id"]
        listing_id = _uuid(f"insideairbnb:{city}:listing:{airbnb_id}")
        created_at = (origin + index * step).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        listing = {
            "id": listing_id,
            "type": "listing",
            "attributes": {**_listing_attributes(row), "createdAt": created_at},
            "relationships": {
                "author": {"data": {"id": _uuid(f"insideairbnb:{city}:author:{airbnb_id}"), "type": "user"}}
            },
        }
        yield _event(city, f"listing:{airbnb_id}", seq, created_at, listing)
        seq += 1
        for start, end_inclusive in ds.unavailable.get(airbnb_id, []):
            exception = {
                "id": _uuid(f"insideairbnb:{city}:exception:{airbnb_id}:{start}"),
                "type": "availabilityException",
                "attributes": {
                    "start": f"{start + shift}T00:00:00.000Z",
                    "end": f"{end_inclusive + shift + timedelta(days=1)}T00:00:00.000Z",
                    "seats": 0,
                },
                "relationships": {"listing": {"data": {"id": listing_id, "type": "listing"}}},
            }
            yield _event(city, f"exception:{airbnb_id}:{start}", seq, created_at, exception)
            seq += 1
