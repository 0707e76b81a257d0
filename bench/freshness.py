"""Freshness: event accepted → visible to search, at a steady event rate.

The Boston set is indexed; the API and a worker run as their own processes. A sender posts
`listing/updated` events at a steady rate (one per request, as a webhook-style producer would),
noting when each was accepted (202). A watcher reads `lastSequenceId` (the highest sequenceId
whose effect is searchable: what `GET /v1/status` reports) every 5 ms from Redis, where status
reads it; polling `/v1/status` itself that often would load the engine with document counts.
An event is visible once `lastSequenceId` reaches it. A sample of events is also checked by
searching for the new title. Then, in the same run, the raw control: the same rate of
one-document `_bulk` writes with `refresh=wait_for` straight to the engine, whose latency is the
floor of our figure.

    python -m bench.freshness [--rate 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import copy
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import (
    BOSTON,
    cli_process,
    engine,
    load_documents,
    paced,
    print_table,
    redis_url,
    services,
    summary_ms,
    wait_http,
    write_results,
)
from bench.scale import boston, events
from indexer.pipeline import stats
from listing_search.runner import free_port
from schemas.availability import utc_today


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send")
    args = parser.parse_args()
    raw = list(events(boston(BOSTON), None, today=utc_today()))
    # Published ones, so the spot checks can see them through the public API.
    listings = [
        r
        for r in raw
        if r["attributes"]["eventType"] == "listing/created"
        and r["attributes"]["resource"]["attributes"]["state"] == "published"
    ]
    with engine() as eng, redis_url() as redis, services(eng.url, redis) as built:
        load_documents(built, raw)
        refresh = built.settings.refresh_interval
        port = free_port()
        with (
            cli_process(built, eng.url, "api", "--port", str(port)),
            cli_process(built, eng.url, "worker", "--name", "bench-fresh"),
        ):
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz")
            first_seq = max(r["attributes"]["sequenceId"] for r in raw) + 1
            result = run(base, built, listings, first_seq, args.rate, args.seconds)
        control = raw_control(built, listings, args.rate, args.seconds)
    latency = result["latencies"]
    figures = {
        "rate": args.rate,
        "seconds": args.seconds,
        "events": len(latency),
        "refreshInterval": refresh,
        "acceptedToVisibleMs": summary_ms(latency),
        "acceptMs": summary_ms(result["accept"]),
        "searchChecked": result["checked"],
        "searchMismatches": result["mismatches"],
        "rawEngineWriteMs": summary_ms(control),
        "goalP99Ms": 1500,
    }
    s = figures["acceptedToVisibleMs"]
    print_table(
        f"Freshness at {args.rate:.0f} events/s for {args.seconds:.0f} s ({eng.description})",
        ["measure", "p50 ms", "p95 ms", "p99 ms", "n"],
        [
            ["accepted → visible", s["p50"], s["p95"], s["p99"], s["n"]],
            ["POST /v1/events (202)", *(figures["acceptMs"][k] for k in ("p50", "p95", "p99", "n"))],
            [
                "raw engine: 1-doc bulk, wait_for, from due time",
                *(figures["rawEngineWriteMs"][k] for k in ("p50", "p95", "p99", "n")),
            ],
        ],
    )
    print(f"\nsearch spot checks: {result['checked']} checked, {result['mismatches']} not yet showing the new title")
    write_results("freshness", eng.description, figures)


def run(
    base: str, built: Any, listings: list[dict[str, Any]], first_seq: int, rate: float, seconds: float
) -> dict[str, Any]:
    headers = {"Authorization": "Bearer bench-token"}
    accepted: dict[int, float] = {}
    visible: dict[int, float] = {}
    accept_s: list[float] = []
    done = threading.Event()

    def watch() -> None:
        pending: list[int] = []
        while not done.is_set() or len(visible) < len(accepted):
            last = int(built.redis.hget(built.keys.stats, stats.LAST_SEQ) or 0)
            now = time.perf_counter()
            pending = sorted(set(pending) | (accepted.keys() - visible.keys()))
            for seq in pending:
                if seq > last:
                    break
                visible[seq] = now
            pending = [seq for seq in pending if seq not in visible]
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    checked = mismatches = 0
    with httpx.Client(base_url=base, timeout=10, headers=headers) as http:
        began = time.perf_counter()
        for n, _ in paced(rate, seconds=seconds, began=began):
            seq = first_seq + n
            event = copy.deepcopy(listings[n % len(listings)])
            event["attributes"]["sequenceId"] = seq
            event["attributes"]["eventType"] = "listing/updated"
            event["attributes"]["resource"]["attributes"]["title"] = f"fresh{seq}"
            t0 = time.perf_counter()
            resp = http.post("/v1/events", json={"data": [event]})
            t1 = time.perf_counter()
            assert resp.status_code == 202, resp.text
            accepted[seq] = t1
            accept_s.append(t1 - t0)
        done.set()
        watcher.join(timeout=60)
        # Spot checks: a visible event's listing shows its title in search.
        for seq in list(visible)[-20:]:
            lid = listings[(seq - first_seq) % len(listings)]["attributes"]["resourceId"]
            found = http.get("/v1/api/listings/show", params={"id": lid})
            checked += 1
            title = found.json()["data"]["attributes"]["title"] if found.status_code == 200 else None
            mismatches += not (title and title.startswith("fresh") and int(title[5:]) >= seq)
    latencies = [visible[s] - accepted[s] for s in accepted if s in visible]
    if os.environ.get("BENCH_TRACE"):
        Path(os.environ["BENCH_TRACE"]).write_text(
            "\n".join(f"{accepted[s] - began:.3f} {visible[s] - accepted[s]:.3f}" for s in sorted(accepted))
        )
    assert len(latencies) == len(accepted), "some events never became visible"
    return {"latencies": latencies, "accept": accept_s, "checked": checked, "mismatches": mismatches}


def raw_control(built: Any, listings: list[dict[str, Any]], rate: float, seconds: float) -> list[float]:
    """The same write pattern with no service in between: each listing's stored document written
    back with a one-document `_bulk` and `refresh=wait_for` at the same rate, into the same
    index. Latency counts from when a write was due, not when it was sent: while one write
    stalls, the writes due meanwhile wait too, as our accepted events do (no coordinated
    omission). It is the floor our accepted → visible figure stands on."""
    ids = [r["attributes"]["resourceId"] for r in listings]
    alias = built.names.alias
    found = built.engine.mget(index=alias, body={"ids": ids})["docs"]
    docs = [(d["_id"], d["_source"]) for d in found if d.get("found")]
    latencies: list[float] = []
    for n, due in paced(rate, seconds=seconds):
        lid, source = docs[n % len(docs)]
        body = orjson.dumps({"index": {"_id": lid}}) + b"\n" + orjson.dumps(source) + b"\n"
        built.engine.bulk(body=body, index=alias, params={"refresh": "wait_for"})
        latencies.append(time.perf_counter() - due)
    return latencies


if __name__ == "__main__":
    main()
