"""What every benchmark shares: the machine description, the engine and Redis, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from indexer.services import Services
from infra.settings import Settings
from listing_search.runner import cli_command, scratch_deployment

RESULTS = Path(__file__).parent / "results"
BOSTON = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "boston"
ENGINE_NOTE = (
    "osmem-server is an in-memory stand-in, much slower than OpenSearch: engine-bound figures "
    "measure it, not OpenSearch"
)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, Any]:
    cpuinfo = _read("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line), "")
    mem_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), 0
    )
    versions = {}
    for name in ("opensearch-py", "osmem-server", "fastapi", "uvicorn", "pydantic", "orjson", "redis", "celery"):
        with suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {
        "host": platform.node(),
        "cpu": model,
        "cores": os.cpu_count(),
        "memoryGiB": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "commit": commit,
    }


@dataclass
class Engine:
    url: str
    description: str
    embedded: bool
    pid: int | None = None  # the embedded engine's process, for its CPU time


def paced(
    rate: float, *, seconds: float | None = None, stop: threading.Event | None = None, began: float | None = None
) -> Iterator[tuple[int, float]]:
    """(n, when it was due) at `rate` per second (0: back to back), for `seconds` or until `stop` is
    set; never early. Counting latency from the due time keeps a stalled call's successors
    waiting, as real arrivals would (no coordinated omission)."""
    began = time.perf_counter() if began is None else began
    n = 0
    while not (stop is not None and stop.is_set()) and (seconds is None or time.perf_counter() - began < seconds):
        due = began + n / rate if rate > 0 else time.perf_counter()
        if (wait := due - time.perf_counter()) > 0:
            if stop is None:
                time.sleep(wait)
            elif stop.wait(wait):
                return
        yield n, due
        n += 1


def wait_idle(pid: int | None, *, below: float = 0.05, timeout: float = 30.0) -> float:
    """Wait until a process uses under `below` of a core over half a second (an engine finishing
    background work after a phase would otherwise slow the next one); returns seconds waited."""
    began = time.monotonic()
    while pid is not None and time.monotonic() - began < timeout:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < below * 0.5:
            break
    return time.monotonic() - began


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc), 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def engine() -> Iterator[Engine]:
    """OPENSEARCH_URL if set, otherwise the embedded osmem-server."""
    url = os.environ.get("OPENSEARCH_URL")
    if url:
        from opensearchpy import OpenSearch

        info = OpenSearch(hosts=[url]).info()
        yield Engine(url, f"{info['version'].get('distribution', 'opensearch')} {info['version']['number']}", False)
        return
    from infra.embedded_engine import start_embedded_engine

    started = start_embedded_engine()
    try:
        yield Engine(started.url, f"osmem-server {started.version} (in-memory stand-in)", True, started.pid)
    finally:
        started.close()


@contextmanager
def redis_url() -> Iterator[str]:
    from infra.local_redis import ensure_redis

    local = ensure_redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        yield local.url
    finally:
        local.close()


@contextmanager
def services(engine_url: str, redis: str, **overrides: Any) -> Iterator[Services]:
    """A deployment of its own (fresh index and key prefixes), removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "opensearch_url": engine_url,
        "redis_url": redis,
        "operator_token": "bench-token",
        "index_prefix": f"bench-{tag}",
        "redis_prefix": f"bench:{tag}:",
        "replicas": 0,
        "block_ms": 20,
    }
    with scratch_deployment(Settings(**{**values, **overrides}), engine_url=engine_url) as built:
        yield built


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """Seconds in, milliseconds out."""
    return {
        "p50": round(percentile(values, 50) * 1000, 3),
        "p95": round(percentile(values, 95) * 1000, 3),
        "p99": round(percentile(values, 99) * 1000, 3),
        "mean": round(statistics.fmean(values) * 1000, 3) if values else float("nan"),
        "n": len(values),
    }


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print(
            "  ".join(c.rjust(w) if n and i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def write_results(name: str, engine_description: str | None, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {
        "benchmark": name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "engine": engine_description,
        "engineNote": ENGINE_NOTE if engine_description and "osmem" in engine_description else None,
        "figures": figures,
    }
    path.write_text(json.dumps(body, indent=2) + "\n")
    print(f"\nresults: {path}")
    return path


def load_documents(built: Services, raw: Sequence[dict[str, Any]], *, chunk: int = 1000) -> int:
    """Fill the live index the fast way: the worker's own transform, written with `helpers.bulk`
    (same documents and versions the worker would write). For benchmarks that need data, not
    for measuring ingest."""
    from collections import defaultdict

    from opensearchpy import helpers

    from indexer.index.live import live_index
    from schemas.availability import utc_today
    from schemas.events import ChangeEvent, classify
    from schemas.listing_doc import build_document, merge

    live = live_index(built.engine, built.names)
    assert live is not None
    groups: dict[str, list[ChangeEvent]] = defaultdict(list)
    for r in raw:
        ev = classify(r)
        assert isinstance(ev, ChangeEvent), ev
        groups[ev.listing_id].append(ev)
    today = utc_today()

    def actions() -> Iterator[dict[str, Any]]:
        for lid, evs in groups.items():
            doc = build_document(lid, merge(None, evs)[0], live.schemas, today)
            yield {"_index": live.name, "_id": lid, "_version": doc["seq"], "_version_type": "external", "_source": doc}

    helpers.bulk(built.engine, actions(), chunk_size=chunk, request_timeout=120)
    built.engine.indices.refresh(index=live.name)
    top = max(r["attributes"]["sequenceId"] for r in raw)
    from indexer.pipeline import stats

    built.redis.hset(built.keys.stats, mapping={stats.ACCEPTED_SEQ: top, stats.LAST_SEQ: top})
    return len(groups)


def cli_env(built: Services, engine_url: str, **env: str) -> dict[str, str]:
    """The environment of a `listing-search` process on this deployment's prefixes."""
    s = built.settings
    return {
        **os.environ,
        "OPENSEARCH_URL": engine_url,
        "REDIS_URL": s.redis_url,
        "LISTING_SEARCH_INDEX_PREFIX": s.index_prefix,
        "LISTING_SEARCH_REDIS_PREFIX": s.redis_prefix,
        "LISTING_SEARCH_OPERATOR_TOKEN": "bench-token",
        "LISTING_SEARCH_REPLICAS": "0",
        **env,
    }


@contextmanager
def cli_process(built: Services, engine_url: str, *args: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`listing-search <args>` as its own process, on this deployment's prefixes."""
    proc = subprocess.Popen(
        [*cli_command(), *args],
        env=cli_env(built, engine_url, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_http(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up in {timeout}s")
        time.sleep(0.1)
