"""The shipped Albany set as events, shared by the integration tests that need real data."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from listing_search.demo.airbnb_import import DEMO_DATA_DIR, iter_events, load_dataset

TODAY = date(2026, 11, 22)


@cache
def _events() -> tuple[dict[str, Any], ...]:
    return tuple(iter_events(load_dataset(DEMO_DATA_DIR), today=TODAY, first_seq=1))


def albany_events() -> list[dict[str, Any]]:
    """Fresh copies (tests mutate them)."""
    import copy

    return copy.deepcopy(list(_events()))


def listings_of(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """listing id -> attributes of its newest listing event (events in sequenceId order)."""
    out: dict[str, dict[str, Any]] = {}
    for ev in sorted(events, key=lambda e: e["attributes"]["sequenceId"]):
        a = ev["attributes"]
        if a["eventType"] in ("listing/created", "listing/updated"):
            out[a["resourceId"]] = a["resource"]["attributes"]
    return out


def published(listings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {lid: a for lid, a in listings.items() if a["state"] == "published" and not a["deleted"]}
