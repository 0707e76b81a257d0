"""Rebuild under load: a full reindex of N listings (default 100,000, resampled from Boston)
while storefront queries and listing updates keep running.

The API, a worker and the job worker run as their own processes. Readers run the storefront
query mix without pause; a writer posts `listing/updated` events at a steady rate. Then
`POST /v1/jobs/reindex`, and everything keeps running until the job is done and a few seconds
after. Reported: the rebuild's duration, queries run / failed / empty, events written / lost
(a lost event is a listing whose indexed title is not the last one written).

    python -m bench.rebuild [--listings 100000] [--readers 2] [--rate 20]
"""

from __future__ import annotations

import argparse
import copy
import random
import threading
import time
from typing import Any

import httpx

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
from bench.query_overhead import storefront_queries
from bench.scale import boston, events
from listing_search.runner import free_port
from schemas.availability import utc_today
from schemas.index_layout import F

HEADERS = {"Authorization": "Bearer bench-token"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=2, help="concurrent query loops")
    parser.add_argument("--rate", type=float, default=20.0, help="listing updates per second during the rebuild")
    parser.add_argument("--after", type=float, default=5.0, help="seconds of load after the swap")
    parser.add_argument("--query-rate", type=float, default=0.0, help="queries per second per reader (0: back to back)")
    args = parser.parse_args()
    began = time.perf_counter()
    raw = list(events(boston(BOSTON), args.listings, today=utc_today()))
    pool = [
        r
        for r in raw
        if r["attributes"]["eventType"] == "listing/created"
        and r["attributes"]["resource"]["attributes"]["state"] == "published"
    ]
    with engine() as eng, redis_url() as redis, services(eng.url, redis, batch_size=200) as built:
        loaded = load_documents(built, raw)
        print(f"loaded {loaded} listings in {time.perf_counter() - began:.0f} s", flush=True)
        port = free_port()
        env = {"LISTING_SEARCH_BATCH_SIZE": "200"}
        with (
            cli_process(built, eng.url, "api", "--port", str(port), **env),
            cli_process(built, eng.url, "worker", "--name", "bench-rebuild", **env),
            cli_process(built, eng.url, "jobs", **env),
        ):
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz")
            first_seq = max(r["attributes"]["sequenceId"] for r in raw) + 1
            figures = under_load(built, base, pool, first_seq, args)
    figures["listings"] = loaded
    job = figures["job"]
    print_table(
        f"Rebuild of {loaded} listings under load ({eng.description})",
        ["measure", "value"],
        [
            ["job", f"{job.get('state')} {job.get('error') or ''}".strip()],
            ["rebuild seconds", figures["rebuildSeconds"]],
            [
                "queries run / failed / empty",
                f"{figures['queries']} / {figures['failedQueries']} / {figures['emptyPages']}",
            ],
            ["query ms p50 / p99", f"{figures['queryMs'].get('p50')} / {figures['queryMs'].get('p99')}"],
            ["events written / lost", f"{figures['eventsWritten']} / {figures['lostEvents']}"],
            ["listings caught up after the copy", job.get("caughtUp")],
            ["writes paused at the swap (ms)", job.get("writesPausedMs")],
        ],
    )
    figures["goals"] = {"failedQueries": 0, "lostEvents": 0}
    write_results(f"rebuild-{loaded}", eng.description, figures)


def under_load(
    built: Any, base: str, pool: list[dict[str, Any]], first_seq: int, args: argparse.Namespace
) -> dict[str, Any]:
    stop = threading.Event()
    counts = {"queries": 0, "failed": 0, "empty": 0}
    latencies: list[float] = []
    lock = threading.Lock()
    mix = list(storefront_queries().values())

    def read(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            for i, _ in paced(args.query_rate, stop=stop):
                params = {**mix[(offset + i) % len(mix)], "perPage": "24"}
                began = time.perf_counter()
                try:
                    resp = http.get("/v1/api/listings/query", params=params)
                    ok, empty = resp.status_code == 200, resp.status_code == 200 and not resp.json()["data"]
                except httpx.HTTPError:
                    ok, empty = False, False
                with lock:
                    counts["queries"] += 1
                    counts["failed"] += not ok
                    counts["empty"] += empty
                    latencies.append(time.perf_counter() - began)

    last_title: dict[str, str] = {}
    written = [0]

    def write() -> None:
        rng = random.Random(7)
        with httpx.Client(base_url=base, timeout=60, headers=HEADERS) as http:
            for n, _ in paced(args.rate, stop=stop):
                seq = first_seq + n
                event = copy.deepcopy(rng.choice(pool))
                event["attributes"]["sequenceId"] = seq
                event["attributes"]["eventType"] = "listing/updated"
                event["attributes"]["resource"]["attributes"]["title"] = f"rebuild{seq}"
                resp = http.post("/v1/events", json={"data": [event]})
                if resp.status_code == 202:
                    last_title[event["attributes"]["resourceId"]] = f"rebuild{seq}"
                    written[0] += 1

    threads = [threading.Thread(target=read, args=(i,)) for i in range(args.readers)]
    threads.append(threading.Thread(target=write))
    for t in threads:
        t.start()
    time.sleep(3)  # load running before the rebuild starts
    with httpx.Client(base_url=base, timeout=60, headers=HEADERS) as http:
        started = time.perf_counter()
        job_id = http.post("/v1/jobs/reindex").json()["id"]
        while True:
            job = http.get(f"/v1/jobs/{job_id}").json()
            if job["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.5)
        rebuild_s = time.perf_counter() - started
        time.sleep(args.after)
        stop.set()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 3600  # a saturated stand-in engine drains slowly
        while True:
            status = http.get("/v1/status").json()
            if status["pending"] == 0 and status["lastSequenceId"] == status["acceptedSequenceId"]:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
    found = built.engine.mget(index=built.names.alias, body={"ids": list(last_title)}, params={"_source": F.TITLE})
    lost = sum(
        1 for doc in found["docs"] if not doc.get("found") or doc["_source"].get(F.TITLE) != last_title[doc["_id"]]
    )
    return {
        "rebuildSeconds": round(rebuild_s, 1),
        "job": {k: job.get(k) for k in ("state", "rounds", "caughtUp", "writesPausedMs", "progress", "error")},
        "queries": counts["queries"],
        "queryMs": summary_ms(latencies),
        "failedQueries": counts["failed"],
        "emptyPages": counts["empty"],
        "eventsWritten": written[0],
        "lostEvents": lost,
        "readers": args.readers,
        "writeRate": args.rate,
        "queryRatePerReader": args.query_rate,
    }


if __name__ == "__main__":
    main()
