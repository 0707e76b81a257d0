"""Ingest: events → searchable through our whole path, against raw `helpers.bulk` of the
identical final documents into the same engine.

Our path: `POST /v1/events` (pages of 1,000) to the API process → Redis stream → a worker
process (batches of `--batch-size` events: mget, merge, build, `_bulk` with refresh=wait_for,
the next batch prepared while a bulk is in flight) → the watermark in Redis says everything is
searchable. Raw: the documents our path produced, read back, written with `helpers.bulk` into
a fresh index with the same mapping, then a refresh; once in requests of `--batch-size`
documents (the same batch size) and once in requests holding as many documents as ours did on
average, in alternating order. Each ratio is raw seconds / our seconds for the same final
documents.

    python -m bench.ingest [--listings N] [--workers N] [--rounds 3] [--pin]   (default: Boston)

`--pin` gives the embedded engine a core of its own and our processes the rest: on a 2-core
machine the engine otherwise competes with the API and worker for CPU, which a deployment with
the engine on its own machines never does.

Each round uses a fresh deployment and every timed phase starts with the engine idle; the
figures are the medians over rounds (osmem-server's speed varies by ±20% from run to run on a
shared 2-core machine).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from opensearchpy import helpers

from bench.common import (
    BOSTON,
    cli_process,
    cpu_seconds,
    engine,
    print_table,
    redis_url,
    services,
    wait_http,
    wait_idle,
    write_results,
)
from bench.scale import boston, events
from indexer.index.lifecycle import create_index
from indexer.index.live import live_index
from indexer.ops.status import pipeline_status
from listing_search.runner import free_port
from schemas.availability import utc_today

PAGE = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=None, help="resample Boston to this many listings")
    parser.add_argument("--batch-size", type=int, default=1000, help="worker batch and raw bulk chunk size")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on our path")
    parser.add_argument("--bulk-in-flight", type=int, default=None, help="LISTING_SEARCH_BULK_IN_FLIGHT")
    parser.add_argument("--rounds", type=int, default=3, help="our path then raw, this many times; median")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="embedded engine on the last core, everything else on the others (as if on its own machine)",
    )
    args = parser.parse_args()
    raw = list(events(boston(BOSTON), args.listings, today=utc_today()))
    env = {"LISTING_SEARCH_BATCH_SIZE": str(args.batch_size)}
    if args.bulk_in_flight is not None:
        env["LISTING_SEARCH_BULK_IN_FLIGHT"] = str(args.bulk_in_flight)
    with engine() as eng, redis_url() as redis:
        pinned = pin(eng.pid) if args.pin else None
        rounds = [one_round(eng, redis, raw, args.workers, args.batch_size, env, n) for n in range(args.rounds)]
    ratios = sorted(r["ratio"] for r in rounds)
    median = next(r for r in rounds if r["ratio"] == ratios[len(ratios) // 2])
    against = statistics.median(r["ratioAgainstChunksOfBatchSize"] for r in rounds)
    figures: dict[str, Any] = {
        "events": len(raw),
        "documents": median["raw"]["documents"],
        "batchSize": args.batch_size,
        "workers": args.workers,
        "bulkInFlight": args.bulk_in_flight,
        "pinned": pinned,
        "ratio": median["ratio"],
        "ratioAgainstChunksOfBatchSize": round(against, 3),
        "ratios": [r["ratio"] for r in rounds],
        "ratiosAgainstChunksOfBatchSize": [r["ratioAgainstChunksOfBatchSize"] for r in rounds],
        "goalRatio": 0.9,
        "median": median,
        "rounds": rounds,
    }
    print_table(
        f"Ingest, {len(raw)} events → {figures['documents']} documents, {args.workers} worker(s)"
        f"{', engine on its own core' if pinned else ''} ({eng.description})",
        [
            "round",
            "ours s",
            "raw s (same docs/request)",
            f"raw s ({args.batch_size} docs/request)",
            "ratio",
            f"ratio vs {args.batch_size}",
            "our bulks",
            "CPU s api+workers+redis",
            "engine CPU s ours/raw",
        ],
        [
            [
                n + 1,
                r["ours"]["seconds"],
                f"{r['raw']['seconds']} ({r['raw']['chunk']})",
                r["rawChunksOfBatchSize"]["seconds"],
                r["ratio"],
                r["ratioAgainstChunksOfBatchSize"],
                f"{r['ours']['bulkRequests']:.0f}",
                round(sum(r["ours"]["cpuSeconds"][k] for k in ("api", "workers", "redis")), 2),
                f"{r['ours']['cpuSeconds']['engine']} / {r['raw']['cpuSeconds']['engine']}",
            ]
            for n, r in enumerate(rounds)
        ],
    )
    against_batch = figures["ratioAgainstChunksOfBatchSize"]
    print(f"\nmedian raw/ours, raw in {args.batch_size}-document requests: {against_batch} (goal ≥ 0.9)")
    print(f"median raw/ours, raw in requests of our own average size: {figures['ratio']}")
    cpu = median["ours"]["cpuSeconds"]
    print("CPU seconds on our path, median round: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
    name = "ingest" if args.listings is None else f"ingest-{args.listings}"
    name = name if args.workers == 1 else f"{name}-{args.workers}-workers"
    write_results(f"{name}-pinned" if pinned else name, eng.description, figures)


def pin(engine_pid: int | None) -> dict[str, list[int]] | None:
    """The engine gets the last core to itself; this process and the API and worker processes it
    starts later share the others. Models an engine on its own machine; Linux only."""
    cores = sorted(os.sched_getaffinity(0))
    if engine_pid is None or len(cores) < 2:
        return None
    for task in Path(f"/proc/{engine_pid}/task").iterdir():  # every thread; new ones inherit
        os.sched_setaffinity(int(task.name), {cores[-1]})
    os.sched_setaffinity(0, set(cores[:-1]))
    return {"engine": [cores[-1]], "ours": cores[:-1]}


def one_round(
    eng: Any, redis: str, raw: list[dict[str, Any]], workers: int, batch_size: int, env: dict[str, str], n: int
) -> dict[str, Any]:
    """Our path into a fresh deployment, then raw bulk of the documents it produced (the two raw
    variants in alternating order). Every phase starts with the engine idle."""
    with services(eng.url, redis, batch_size=batch_size) as built:
        port = free_port()
        with contextlib.ExitStack() as stack:
            api = stack.enter_context(cli_process(built, eng.url, "api", "--port", str(port), **env))
            procs = [
                stack.enter_context(cli_process(built, eng.url, "worker", "--name", f"bench-worker-{i}", **env))
                for i in range(workers)
            ]
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz")
            processes = {"api": [api.pid], "workers": [w.pid for w in procs], "engine": [eng.pid]}
            wait_idle(eng.pid)
            before = cpu_use(processes, built)
            ours = our_path(base, built, raw)
            ours["cpuSeconds"] = cpu_delta(before, cpu_use(processes, built))
        same = max(1, round(ours["documentWrites"] / max(ours["bulkRequests"], 1)))
        result: dict[str, Any] = {"ours": ours}
        variants = [("raw", same), ("rawChunksOfBatchSize", batch_size)]
        for key, chunk in variants if n % 2 == 0 else reversed(variants):
            result[key] = raw_path(built, chunk, eng.pid)
    result["ratio"] = round(result["raw"]["seconds"] / ours["seconds"], 3)
    result["ratioAgainstChunksOfBatchSize"] = round(result["rawChunksOfBatchSize"]["seconds"] / ours["seconds"], 3)
    print(f"round: ours {ours['seconds']} s, raw {result['raw']['seconds']} s, ratio {result['ratio']}", flush=True)
    return result


def our_path(base: str, built: Any, raw: list[dict[str, Any]]) -> dict[str, Any]:
    headers = {"Authorization": "Bearer bench-token", "Content-Type": "application/json"}
    # Encoded before the clock starts: the client's JSON encoder is not part of our path (and on
    # a 2-core machine its CPU would be taken from the engine).
    pages = [orjson.dumps({"data": raw[start : start + PAGE]}) for start in range(0, len(raw), PAGE)]
    with httpx.Client(base_url=base, timeout=120, headers=headers) as http:
        began = time.perf_counter()
        for page in pages:
            resp = http.post("/v1/events", content=page)
            if resp.status_code == 503:  # backpressure: wait as a client should
                time.sleep(float(resp.headers.get("Retry-After", "1")))
                resp = http.post("/v1/events", content=page)
            assert resp.status_code == 202, resp.text
        accepted = time.perf_counter() - began
        top = max(r["attributes"]["sequenceId"] for r in raw)
        # The watermark straight from Redis: `GET /v1/status` also counts documents in the
        # engine, and polling it every few ms would load the engine this benchmark measures.
        while True:
            watermark = pipeline_status(built.redis, built.keys)
            if watermark["pending"] == 0 and watermark["lastSequenceId"] == top:
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - began
        status = http.get("/v1/status").json()
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


def cpu_use(processes: dict[str, list[int | None]], built: Any) -> dict[str, float]:
    """CPU seconds so far per part of the path: where a 2-core machine's time goes."""
    use = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in processes.items()}
    info = built.redis.info("cpu")
    use["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    use["benchClient"] = time.process_time()
    return use


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before[name], 2) for name in before}


def raw_path(built: Any, chunk: int, engine_pid: int | None) -> dict[str, Any]:
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
    wait_idle(engine_pid)
    engine_cpu, client_cpu = cpu_seconds(engine_pid), time.process_time()
    began = time.perf_counter()
    helpers.bulk(built.engine, actions, chunk_size=chunk, request_timeout=300)
    built.engine.indices.refresh(index=target)
    seconds = time.perf_counter() - began
    cpu = {
        "engine": round(cpu_seconds(engine_pid) - engine_cpu, 2),
        "benchClient": round(time.process_time() - client_cpu, 2),
    }
    count = built.engine.count(index=target)["count"]
    assert count == len(docs)
    built.engine.indices.delete(index=target)
    return {
        "seconds": round(seconds, 3),
        "documents": len(docs),
        "chunk": chunk,
        "docsPerSecond": round(len(docs) / seconds),
        "cpuSeconds": cpu,
    }


if __name__ == "__main__":
    main()
