"""Scaling the Boston snapshot to any number of listings by resampling its real distributions.

Each synthetic listing takes its descriptive columns (title, type, amenities, capacity,
reviews…) from one real row, its price from another, its location from a third (jittered by
about 200 m, so listings do not stack on one point) and its calendar (the unavailable runs)
from a fourth. Marginal distributions stay Boston's; ids are new and deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from listing_search.demo.airbnb_import import AirbnbDataset, iter_events, load_dataset

JITTER_DEGREES = 0.002


def scaled_dataset(source: AirbnbDataset, listings: int, *, seed: int = 1) -> AirbnbDataset:
    rng = random.Random(seed)
    rows = source.listings
    priced = [r for r in rows if r.get("price", "").strip()]
    out: list[dict[str, str]] = []
    unavailable = {}
    for i in range(listings):
        row = dict(rng.choice(rows))
        where = rng.choice(rows)
        new_id = str(10**9 + i)
        row["id"] = new_id
        row["price"] = rng.choice(priced)["price"] if rng.random() < len(priced) / len(rows) else ""
        row["latitude"] = f"{float(where['latitude']) + rng.uniform(-JITTER_DEGREES, JITTER_DEGREES):.6f}"
        row["longitude"] = f"{float(where['longitude']) + rng.uniform(-JITTER_DEGREES, JITTER_DEGREES):.6f}"
        calendar = source.unavailable.get(rng.choice(rows)["id"])
        if calendar:
            unavailable[new_id] = calendar
        out.append(row)
    return AirbnbDataset(
        listings=out,
        unavailable=unavailable,
        scrape_date=source.scrape_date,
        city=f"{source.city}-x{listings}-s{seed}",
    )


def boston(path: Path) -> AirbnbDataset:
    return load_dataset(path)


def events(source: AirbnbDataset, listings: int | None, *, today: date, seed: int = 1) -> Iterator[dict[str, Any]]:
    """The real snapshot when `listings` is None, otherwise a resampled one of that size."""
    dataset = source if listings is None else scaled_dataset(source, listings, seed=seed)
    return iter_events(dataset, today=today)
