"""Transform CPU: events → `_bulk` request bodies with no engine (a null sink), on one core.

The stages are exactly the service's: intake validation (`classify`), the stream's encoding
and decoding, per-listing merge, document build (availability runs included) and the bulk line.
Time is CPU time of this process pinned to one core.

    python -m bench.transform [--listings 10000] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import functools
import io
import os
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench.common import BOSTON, print_table, write_results
from bench.scale import boston, events
from indexer.index.documents import index_op
from schemas.availability import utc_today
from schemas.events import ChangeEvent, classify
from schemas.index_layout import F
from schemas.listing_doc import build_document, merge
from schemas.search_schema import DEFAULT_SCHEMAS, SchemaSet

STAGES = ("classify", "stream codec", "merge", "build", "bulk line")


def run(raw: list[dict[str, Any]], base: dict[str, dict[str, Any]] | None = None) -> dict[str, float]:
    """CPU seconds per stage for one pass; `base` holds the stored documents (steady state),
    as the worker reads them: `src` and the availability fields."""
    schemas, today = SchemaSet(DEFAULT_SCHEMAS), utc_today()
    spent = dict.fromkeys(STAGES, 0.0)
    clock = time.process_time
    t = clock()
    found = [classify(r) for r in raw]
    spent["classify"] += clock() - t
    t = clock()
    decoded = [ChangeEvent.from_json(e.to_json()) for e in found if isinstance(e, ChangeEvent)]
    spent["stream codec"] += clock() - t
    assert len(decoded) == len(raw), "every benchmark event must be valid"
    groups: dict[str, list[ChangeEvent]] = defaultdict(list)
    for ev in decoded:
        groups[ev.listing_id].append(ev)
    sink = 0
    for lid, evs in groups.items():
        t = clock()
        stored = (base or {}).get(lid)
        src, _ = merge(None if stored is None else stored[F.SOURCE], evs)
        t2 = clock()
        doc = build_document(lid, src, schemas, today, previous=stored)
        t3 = clock()
        sink += len(index_op(lid, doc, None))
        t4 = clock()
        spent["merge"] += t2 - t
        spent["build"] += t3 - t2
        spent["bulk line"] += t4 - t3
    spent["bytes"] = sink
    return spent


def best_of(repeat: int, fn: Callable[[], dict[str, float]]) -> dict[str, float]:
    results = [fn() for _ in range(repeat)]
    return min(results, key=lambda r: sum(r[s] for s in STAGES))


def listing_updates(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """One `listing/updated` per listing, applied onto its full current source (steady state)."""
    by_listing: dict[str, list[ChangeEvent]] = defaultdict(list)
    updates: list[dict[str, Any]] = []
    top = max(r["attributes"]["sequenceId"] for r in raw)
    for r in raw:
        ev = classify(r)
        assert isinstance(ev, ChangeEvent)
        by_listing[ev.listing_id].append(ev)
        if r["attributes"]["eventType"] == "listing/created":
            update = copy.deepcopy(r)
            update["attributes"]["eventType"] = "listing/updated"
            update["attributes"]["sequenceId"] = top + len(updates) + 1
            update["attributes"]["resource"]["attributes"]["title"] += " (updated)"
            updates.append(update)
    schemas, today = SchemaSet(DEFAULT_SCHEMAS), utc_today()
    base = {lid: build_document(lid, merge(None, evs)[0], schemas, today) for lid, evs in by_listing.items()}
    return updates, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=10_000, help="size of the resampled set (default 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="passes per workload; the best is kept")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one pass over Boston")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    today = utc_today()
    source = boston(BOSTON)
    workloads: dict[str, tuple[list[dict[str, Any]], dict[str, dict[str, Any]] | None]] = {
        "boston (real)": (list(events(source, None, today=today)), None),
        f"resampled {args.listings}": (list(events(source, args.listings, today=today)), None),
    }
    updates, base = listing_updates(workloads[f"resampled {args.listings}"][0])
    workloads[f"listing/updated onto {args.listings} full docs"] = (updates, base)
    rows = []
    figures: dict[str, Any] = {"workloads": {}}
    for name, (raw, existing) in workloads.items():
        spent = best_of(args.repeat, functools.partial(run, raw, existing))
        total = sum(spent[s] for s in STAGES)
        listing_events = sum(1 for r in raw if r["attributes"]["eventType"].startswith("listing/"))
        per_s = len(raw) / total
        rows.append(
            [
                name,
                len(raw),
                listing_events,
                f"{per_s:,.0f}",
                *(f"{spent[s] / len(raw) * 1e6:.1f}" for s in STAGES),
            ]
        )
        figures["workloads"][name] = {
            "events": len(raw),
            "listingEvents": listing_events,
            "cpuSeconds": round(total, 4),
            "eventsPerSecondOneCore": round(per_s),
            "microsecondsPerEvent": {s: round(spent[s] / len(raw) * 1e6, 2) for s in STAGES},
            "bulkBytes": int(spent["bytes"]),
        }
    print_table(
        "Transform CPU, one core (µs per event by stage)",
        ["workload", "events", "listing ev.", "events/s", *STAGES],
        rows,
    )
    figures["goalEventsPerSecond"] = 20_000
    write_results("transform", None, figures)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(workloads["boston (real)"][0])
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
