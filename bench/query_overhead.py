"""Query overhead: what our API adds on top of the engine, for realistic storefront queries.

The Boston set is indexed; the API runs as its own process (`listing-search api`), as in
production. For each query of the mix, side by side and interleaved: the API over HTTP, and the
very DSL the API sends, straight to the engine with opensearch-py. Overhead is API latency minus
the raw engine call's latency (both measured by this client over HTTP); API latency minus the
engine's own `took` is reported too. Then requests/s with N concurrent clients.

Then facets: a storefront query with 4 facets against the same query without them, both paths
side by side, so what facets cost the engine and what they cost us show apart.

    python -m bench.query_overhead [--rounds 200] [--clients 1,4,16] [--seconds 10] [--facets-only]
"""

from __future__ import annotations

import argparse
import functools
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import httpx

from bench.common import (
    BOSTON,
    cli_process,
    engine,
    load_documents,
    percentile,
    print_table,
    redis_url,
    services,
    summary_ms,
    wait_http,
    write_results,
)
from bench.scale import boston, events
from indexer.index import schema_registry
from indexer.index.lifecycle import create_index, swap_aliases
from indexer.index.live import live_index
from listing_search.runner import free_port
from schemas.availability import utc_today
from schemas.search_schema import SearchSchema
from search_api.search.dsl import search_body
from search_api.search.facets import facets_answer
from search_api.search.parse import parse_listing_query

T = TypeVar("T")


def storefront_queries() -> dict[str, dict[str, str]]:
    start = utc_today() + timedelta(days=30)
    dates = {"start": f"{start}T00:00:00.000Z", "end": f"{start + timedelta(days=3)}T00:00:00.000Z"}
    boston_box = "42.40,-71.00,42.30,-71.15"
    return {
        "newest": {},
        "keywords": {"keywords": "cozy apartment"},
        "price range, by price": {"price": "5000,20000", "sort": "price"},
        "map bounds": {"bounds": boston_box},
        "near a point": {"origin": "42.3554,-71.0605"},
        "dates (day-full)": dates,
        "listing type": {"pub_listingType": "Entire home/apt"},
        "everything": {
            "keywords": "apartment",
            "price": "5000,40000",
            "bounds": boston_box,
            "pub_listingType": "Entire home/apt",
            **dates,
        },
    }


# What a filter panel facets besides listingType and price (Boston has these in publicData).
FACET_SCHEMAS: tuple[SearchSchema, ...] = (
    SearchSchema(key="amenities", scope="public", type="multi-enum"),
    SearchSchema(key="guests", scope="public", type="long"),
)
FACETS = "pub_listingType,pub_amenities,price,pub_guests"


def storefront_facet_query() -> dict[str, str]:
    """A filter panel after a few clicks: a type ticked, a price range and the map."""
    return {"pub_listingType": "Entire home/apt", "price": "5000,40000", "bounds": "42.40,-71.00,42.30,-71.15"}


def _with_facet_schemas(built: Any) -> None:
    """Register the facet schemas and point the aliases at a fresh index built with them, before
    any document is loaded (so no rebuild job is needed)."""
    registry = None
    for schema in FACET_SCHEMAS:
        registry = schema_registry.put(built.engine, built.names, schema)
    assert registry is not None
    old = live_index(built.engine, built.names)
    assert old is not None
    new = create_index(built.engine, built.settings, built.names, old.version + 1, registry.schemas, live=False)
    swap_aliases(built.engine, built.names, old.name, new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200, help="measured requests per query and path")
    parser.add_argument("--clients", default="1,4,16", help="concurrency levels for the throughput run")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput run")
    parser.add_argument("--facets-only", action="store_true", help="only the facets comparison")
    args = parser.parse_args()
    with engine() as eng, redis_url() as redis, services(eng.url, redis) as built:
        _with_facet_schemas(built)
        loaded = load_documents(built, list(events(boston(BOSTON), None, today=utc_today())))
        live = live_index(built.engine, built.names)
        assert live is not None
        port = free_port()
        with cli_process(built, eng.url, "api", "--port", str(port)):
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz")
            figures = {} if args.facets_only else measure(built, live, base, args, loaded)
            figures["facets"] = measure_facets(built, live, base, args.rounds)
    figures["engine"] = eng.description
    write_results("query_overhead_facets" if args.facets_only else "query_overhead", eng.description, figures)


def measure(built: Any, live: Any, base: str, args: argparse.Namespace, loaded: int) -> dict[str, Any]:
    queries = storefront_queries()
    client = httpx.Client(base_url=base, timeout=30)
    index = live.public_alias(built.names)
    rows, per_query = [], {}
    all_overhead: list[float] = []
    for name, params in queries.items():
        full = {**params, "perPage": "24"}
        body = search_body(parse_listing_query(list(full.items()), live.schemas))
        api_s, raw_s, took_s = [], [], []
        for i in range(args.rounds + 10):
            # Alternate which goes first, so neither benefits from the other warming a cache.
            api_call = functools.partial(client.get, "/v1/api/listings/query", params=full)
            raw_call = functools.partial(built.engine.search, index=index, body=body)
            if i % 2:
                api_t, resp = _timed(api_call)
                raw_t, found = _timed(raw_call)
            else:
                raw_t, found = _timed(raw_call)
                api_t, resp = _timed(api_call)
            assert resp.status_code == 200, resp.text
            if i >= 10:  # warm-up
                api_s.append(api_t)
                raw_s.append(raw_t)
                took_s.append(found["took"] / 1000)
        assert resp.json()["meta"]["totalItems"] == found["hits"]["total"]["value"], name
        overhead = [a - r for a, r in zip(api_s, raw_s, strict=True)]
        all_overhead += overhead
        per_query[name] = {
            "hits": found["hits"]["total"]["value"],
            "apiMs": summary_ms(api_s),
            "rawEngineCallMs": summary_ms(raw_s),
            "engineTookMs": summary_ms(took_s),
            "overheadMs": summary_ms(overhead),
            "apiMinusTookMs": summary_ms([a - t for a, t in zip(api_s, took_s, strict=True)]),
        }
        rows.append(
            [
                name,
                found["hits"]["total"]["value"],
                f"{percentile(api_s, 50) * 1000:.2f}",
                f"{percentile(raw_s, 50) * 1000:.2f}",
                f"{percentile(took_s, 50) * 1000:.0f}",
                f"{percentile(overhead, 50) * 1000:.2f}",
                f"{percentile(overhead, 95) * 1000:.2f}",
                f"{percentile(api_s, 50) / percentile(raw_s, 50):.2f}",
            ]
        )
    client.close()
    print_table(
        f"Query overhead, perPage 24, {loaded} listings, {args.rounds} rounds (ms)",
        ["query", "hits", "API p50", "engine call p50", "took p50", "overhead p50", "overhead p95", "API/engine"],
        rows,
    )
    throughput = []
    for clients in (int(c) for c in args.clients.split(",")):
        throughput.append(run_clients(base, list(queries.values()), clients, args.seconds))
    print_table(
        f"Throughput, the query mix round robin, {args.seconds:.0f} s per level",
        ["clients", "requests", "req/s", "errors", "p50 ms", "p99 ms"],
        [
            [t["clients"], t["requests"], f"{t['perSecond']:.0f}", t["errors"], t["p50Ms"], t["p99Ms"]]
            for t in throughput
        ],
    )
    return {
        "listings": loaded,
        "perPage": 24,
        "rounds": args.rounds,
        "overheadAllQueriesMs": summary_ms(all_overhead),
        "goalOverheadP50Ms": 2.0,
        "queries": per_query,
        "throughput": throughput,
    }


def measure_facets(built: Any, live: Any, base: str, rounds: int) -> dict[str, Any]:
    """The storefront query with and without 4 facets, each over the API and straight to the
    engine, interleaved so the four paths see the same engine state."""
    client = httpx.Client(base_url=base, timeout=30)
    index = live.public_alias(built.names)
    plain = {**storefront_facet_query(), "perPage": "24"}
    variants = {"without facets": plain, "with 4 facets": {**plain, "facets": FACETS}}
    samples: dict[str, dict[str, list[float]]] = {n: {"api": [], "raw": [], "took": []} for n in variants}
    sizes: dict[str, int] = {}
    bodies = {n: search_body(parse_listing_query(list(p.items()), live.schemas)) for n, p in variants.items()}
    for i in range(rounds + 10):
        for name in variants if i % 2 else reversed(list(variants)):
            api_t, resp = _timed(functools.partial(client.get, "/v1/api/listings/query", params=variants[name]))
            raw_t, found = _timed(functools.partial(built.engine.search, index=index, body=bodies[name]))
            assert resp.status_code == 200, resp.text
            sizes[name] = len(resp.content)
            if i >= 10:
                samples[name]["api"].append(api_t)
                samples[name]["raw"].append(raw_t)
                samples[name]["took"].append(found["took"] / 1000)
    client.close()
    # Our own code for facets, in process: parsing, building the DSL and shaping meta.facets.
    faceted = variants["with 4 facets"]
    aggregations = built.engine.search(index=index, body=bodies["with 4 facets"])["aggregations"]

    def our_code() -> None:
        q = parse_listing_query(list(faceted.items()), live.schemas)
        search_body(q)
        facets_answer(q.facets, aggregations, q.facet_limit)

    ours = [_timed(our_code)[0] for _ in range(1000)]
    print(f"parse + DSL + meta.facets in process: p50 {percentile(ours, 50) * 1e6:.0f} µs")
    out: dict[str, Any] = {"query": plain, "facets": FACETS, "rounds": rounds, "ourCodeMs": summary_ms(ours)}
    rows = []
    for name, s in samples.items():
        overhead = [a - r for a, r in zip(s["api"], s["raw"], strict=True)]
        out[name] = {
            "apiMs": summary_ms(s["api"]),
            "rawEngineCallMs": summary_ms(s["raw"]),
            "engineTookMs": summary_ms(s["took"]),
            "overheadMs": summary_ms(overhead),
            "responseBytes": sizes[name],
        }
        rows.append(
            [
                name,
                f"{percentile(s['api'], 50) * 1000:.2f}",
                f"{percentile(s['raw'], 50) * 1000:.2f}",
                f"{percentile(s['took'], 50) * 1000:.0f}",
                f"{percentile(overhead, 50) * 1000:.2f}",
                f"{percentile(overhead, 95) * 1000:.2f}",
                sizes[name],
            ]
        )
    print_table(
        f"Facets, perPage 24, {rounds} rounds (ms): {FACETS}",
        ["query", "API p50", "engine call p50", "took p50", "overhead p50", "overhead p95", "bytes"],
        rows,
    )
    return out


def _timed(call: Callable[[], T]) -> tuple[float, T]:
    began = time.perf_counter()
    result = call()
    return time.perf_counter() - began, result


def run_clients(base: str, mix: list[dict[str, str]], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop(offset: int) -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        with httpx.Client(base_url=base, timeout=30) as http:
            i = offset
            while time.monotonic() < stop_at:
                params = {**mix[i % len(mix)], "perPage": "24"}
                t0 = time.perf_counter()
                try:
                    ok = http.get("/v1/api/listings/query", params=params).status_code == 200
                except httpx.HTTPError:
                    ok = False
                mine.append(time.perf_counter() - t0)
                failed += not ok
                i += 1
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    return {
        "clients": clients,
        "requests": len(latencies),
        "perSecond": round(len(latencies) / elapsed, 1),
        "errors": errors,
        "p50Ms": round(percentile(latencies, 50) * 1000, 2),
        "p99Ms": round(percentile(latencies, 99) * 1000, 2),
    }


if __name__ == "__main__":
    main()
