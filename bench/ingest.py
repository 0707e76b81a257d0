"""Ingest: events → searchable through our whole path, against raw `helpers.bulk` of the
identical final documents into the same engine.

Our path: `POST /v1/events` (pages of 1,000) to the API process → Redis stream → a worker
process (batches of `--batch-size` events: mget, merge, build, `_bulk` with refresh=wait_for)
→ status says everything is searchable. Raw: the documents our path produced, read back,
written with `helpers.bulk` into a fresh index with the same mapping, then a refresh. The
ratio is raw seconds / our seconds for the same final documents, with the raw bulk requests
holding as many documents as ours did on average (the same batch size, in documents: a batch of
1,000 Boston events touches about 170 listings). Raw with chunks of `--batch-size` documents
is reported too: on osmem-server each request has a large fixed cost.

    python -m bench.ingest [--listings N]   (default: the real Boston set)
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any

import httpx
from opensearchpy import helpers

from bench.common import (
    BOSTON,
    cli_process,
    engine,
    print_table,
    redis_url,
    services,
    wait_http,
    write_results,
)
from bench.scale import boston, events
from indexer.index_admin import create_index, live_index
from listing_search.runner import free_port
from schemas.availability import utc_today

PAGE = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=None, help="resample Boston to this many listings")
    parser.add_argument("--batch-size", type=int, default=1000, help="worker batch and raw bulk chunk size")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on our path")
    args = parser.parse_args()
    raw = list(events(boston(BOSTON), args.listings, today=utc_today()))
    with engine() as eng, redis_url() as redis, services(eng.url, redis, batch_size=args.batch_size) as built:
        port = free_port()
        env = {"LISTING_SEARCH_BATCH_SIZE": str(args.batch_size)}
        with contextlib.ExitStack() as stack:
            stack.enter_context(cli_process(built, eng.url, "api", "--port", str(port), **env))
            for n in range(args.workers):
                stack.enter_context(cli_process(built, eng.url, "worker", "--name", f"bench-worker-{n}", **env))
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz")
            ours = our_path(base, raw)
        figures: dict[str, Any] = {
            "events": len(raw),
            "batchSize": args.batch_size,
            "workers": args.workers,
            "ours": ours,
        }
        same = max(1, round(ours["documentWrites"] / max(ours["bulkRequests"], 1)))
        figures["raw"] = raw_path(built, same)
        figures["rawChunksOfBatchSize"] = raw_path(built, args.batch_size)
        figures["ratio"] = round(figures["raw"]["seconds"] / ours["seconds"], 3)
        figures["ratioAgainstChunksOfBatchSize"] = round(
            figures["rawChunksOfBatchSize"]["seconds"] / ours["seconds"], 3
        )
        figures["goalRatio"] = 0.9
    print_table(
        f"Ingest, {len(raw)} events → {figures['raw']['documents']} documents ({eng.description})",
        ["path", "seconds", "events/s", "documents/s"],
        [
            [
                f"ours (HTTP → stream → {args.workers} worker(s) → searchable)",
                ours["seconds"],
                ours["eventsPerSecond"],
                ours["docsPerSecond"],
            ],
            [
                f"raw helpers.bulk, {figures['raw']['chunk']} docs/request (as ours)",
                figures["raw"]["seconds"],
                "",
                figures["raw"]["docsPerSecond"],
            ],
            [
                f"raw helpers.bulk, {args.batch_size} docs/request",
                figures["rawChunksOfBatchSize"]["seconds"],
                "",
                figures["rawChunksOfBatchSize"]["docsPerSecond"],
            ],
        ],
    )
    print(f"\nratio raw/ours at the same documents per request: {figures['ratio']} (goal ≥ 0.9)")
    print(f"ratio against raw with {args.batch_size}-document requests: {figures['ratioAgainstChunksOfBatchSize']}")
    print(f"our workers spent {ours['bulkSeconds']} s in {ours['bulkRequests']:.0f} _bulk requests")
    name = "ingest" if args.listings is None else f"ingest-{args.listings}"
    write_results(name if args.workers == 1 else f"{name}-{args.workers}-workers", eng.description, figures)


def our_path(base: str, raw: list[dict[str, Any]]) -> dict[str, Any]:
    headers = {"Authorization": "Bearer bench-token"}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as http:
        began = time.perf_counter()
        for start in range(0, len(raw), PAGE):
            resp = http.post("/v1/events", json={"data": raw[start : start + PAGE]})
            if resp.status_code == 503:  # backpressure: wait as a client should
                time.sleep(float(resp.headers.get("Retry-After", "1")))
                resp = http.post("/v1/events", json={"data": raw[start : start + PAGE]})
            assert resp.status_code == 202, resp.text
        accepted = time.perf_counter() - began
        top = max(r["attributes"]["sequenceId"] for r in raw)
        while True:
            status = http.get("/v1/status").json()
            if status["pending"] == 0 and status["lastSequenceId"] == top:
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - began
        metrics = http.get("/metrics").text
        bulk = _bulk_metrics(metrics)
    assert status["deadLetters"] == 0, status
    return {
        "seconds": round(seconds, 3),
        "acceptSeconds": round(accepted, 3),
        "eventsPerSecond": round(len(raw) / seconds),
        "docsPerSecond": round(status["documents"] / seconds),
        "documents": status["documents"],
        "bulkRequests": bulk["count"],
        "documentWrites": _written(metrics),
        "bulkSeconds": round(bulk["sum"], 3),
    }


def _bulk_metrics(text: str) -> dict[str, float]:
    """The workers' `_bulk` time: how much of our path is the engine writing."""
    out = {"count": 0.0, "sum": 0.0}
    for line in text.splitlines():
        for name in out:
            if line.startswith(f"listing_search_bulk_seconds_{name} "):
                out[name] = float(line.split()[1])
    return out


def _written(metrics: str) -> int:
    for line in metrics.splitlines():
        if line.startswith("listing_search_documents_written_total "):
            return int(float(line.split()[1]))
    return 0


def raw_path(built: Any, chunk: int) -> dict[str, Any]:
    live = live_index(built.engine, built.names)
    assert live is not None
    docs = [
        (h["_id"], h["_version"], h["_source"])
        for h in helpers.scan(built.engine, index=live.name, query={"query": {"match_all": {}}}, version=True)
    ]
    target = built.names.versioned(live.version + 50)
    create_index(built.engine, built.settings, built.names, live.version + 50, live.schemas, live=False)
    actions = (
        {"_index": target, "_id": lid, "_version": version, "_version_type": "external", "_source": source}
        for lid, version, source in docs
    )
    began = time.perf_counter()
    helpers.bulk(built.engine, actions, chunk_size=chunk, request_timeout=300)
    built.engine.indices.refresh(index=target)
    seconds = time.perf_counter() - began
    count = built.engine.count(index=target)["count"]
    assert count == len(docs)
    built.engine.indices.delete(index=target)
    return {
        "seconds": round(seconds, 3),
        "documents": len(docs),
        "chunk": chunk,
        "docsPerSecond": round(len(docs) / seconds),
    }


if __name__ == "__main__":
    main()
