"""What our own layers cost: the API against an engine that answers in microseconds.

1. Boston is indexed in the real engine (osmem-server here). A recording proxy
   (`bench.instant_engine --record`) stands in front of it while an API process answers each
   query of the storefront mix (perPage 24) a few times, so every engine call the API makes
   (start-up reads, live-index lookups, `_search`) is written down with its answer.
2. The instant engine replays those answers (`--replay`), pinned to the last core. Against it:
   - latency: for each query, the API over HTTP and the very `_search` the API sends, straight
     to the instant engine, interleaved; overhead = API - engine call, p50/p95/p99;
   - requests/s of one API process pinned to core 0, at 1, 8 and 64 connections (wrk, on the
     last core with the engine), errors counted;
   - requests/s of `listing-search api --workers N` for N = 1 .. cores, so scaling shows;
   - a py-spy profile of one process at saturation, by where the time goes.
3. The side-by-side against the real engine (`bench.query_overhead`'s figure) in the same run.

    python -m bench.api_throughput [--rounds 300] [--seconds 10] [--connections 1,8,64] [--no-profile]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from bench.common import (
    BOSTON,
    RESULTS,
    cli_env,
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
from bench.query_overhead import storefront_queries
from bench.scale import boston, events
from indexer.index.live import live_index
from indexer.services import Services
from listing_search.runner import cli_command, free_port, stop_process_group
from schemas.availability import utc_today
from search_api.search.dsl import search_body
from search_api.search.parse import parse_listing_query

PATH = "/v1/api/listings/query"
GOALS = {"overheadP50Ms": 1.0, "overheadP99Ms": 5.0, "perCorePerSecond": 1000, "scaling": 0.8}


def mix_urls() -> dict[str, str]:
    return {name: f"{PATH}?{urlencode({**params, 'perPage': '24'})}" for name, params in storefront_queries().items()}


@contextmanager
def process(
    argv: list[str], env: dict[str, str] | None = None, *, cores: str | None = None, cwd: Path | None = None
) -> Iterator[int]:
    """A process (pinned to `cores` with taskset), stopped with SIGINT then SIGKILL; yields its pid."""
    if cores is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", cores, *argv]
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        yield proc.pid
    finally:
        stop_process_group(proc, signal.SIGINT, grace=20)


def instant(mode: str, path: Path, port: int, upstream: str | None = None, cores: str | None = None) -> Any:
    argv = [sys.executable, "-m", "bench.instant_engine", "--port", str(port), f"--{mode}", str(path)]
    if upstream:
        argv += ["--upstream", upstream]
    return process(argv, cores=cores)


def api(
    built: Services, engine_url: str, port: int, *, workers: int = 1, cores: str | None = None, code: Path | None = None
) -> Any:
    """`listing-search api`: this checkout's, or (`code`) an older checkout's, run from its folder."""
    if code is None:
        argv = [*cli_command(), "api", "--port", str(port), "--workers", str(workers)]
        return process(argv, cli_env(built, engine_url), cores=cores)
    env = cli_env(built, engine_url, PYTHONPATH=str(code))
    # An editable install's import hook would send `import search_api` back to this checkout.
    boot = (
        "import runpy, sys; "
        "sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith('__editable__')]; "
        "sys.argv[0] = 'listing-search'; runpy.run_module('listing_search', run_name='__main__')"
    )
    argv = [sys.executable, "-c", boot, "api", "--port", str(port)]
    return process(argv, env, cores=cores, cwd=code)


def checkout(ref: str) -> Path:
    """The code at `ref` (a commit before the change being measured), in a folder of its own."""
    folder = Path(tempfile.mkdtemp(prefix="ls-baseline-"))
    archive = subprocess.run(["git", "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def record(built: Services, engine_url: str, path: Path, codes: list[Path | None]) -> int:
    """Every engine call each API makes for the mix, with the real engine's answer."""
    rec_port = free_port()
    with instant("record", path, rec_port, upstream=engine_url):
        wait_http(f"http://127.0.0.1:{rec_port}/__misses")
        for code in codes:
            api_port = free_port()
            with api(built, f"http://127.0.0.1:{rec_port}", api_port, code=code):
                base = f"http://127.0.0.1:{api_port}"
                wait_http(f"{base}/readyz")
                with httpx.Client(base_url=base, timeout=60) as client:
                    for _ in range(3):
                        for url in mix_urls().values():
                            resp = client.get(url)
                            assert resp.status_code == 200, resp.text
    return len(json.loads(path.read_text()))


def latency(built: Services, apis: dict[str, str], engine_url: str, recording: Path, rounds: int) -> dict[str, Any]:
    """Per query and API: the API, and the `_search` it sends, straight to the instant engine; all
    interleaved round by round, each round starting with a different one."""
    from bench.instant_engine import load

    live = live_index(built.engine, built.names)
    assert live is not None
    searches = [
        (target, body, orjson.loads(body))
        for (method, target, body), (status, _) in load(recording).items()
        if method == "POST" and "/_search" in target and status == 200
    ]
    out: dict[str, Any] = {label: {"queries": {}, "all": []} for label in apis}
    rows = []
    clients = {label: httpx.Client(base_url=base, timeout=30) for label, base in apis.items()}
    raw = httpx.Client(base_url=engine_url, timeout=30)
    try:
        for name, params in storefront_queries().items():
            url = mix_urls()[name]
            parsed = parse_listing_query(list({**params, "perPage": "24"}.items()), live.schemas)
            dsl = orjson.loads(orjson.dumps(search_body(parsed)))
            # Each API's own recorded `_search`: this code asks with filter_path; a baseline from
            # before it (3847598) without, a later one with it as well.
            same = [(t, b) for t, b, sent in searches if sent == dsl]
            filtered = [tb for tb in same if "filter_path" in tb[0]]
            unfiltered = [tb for tb in same if "filter_path" not in tb[0]]
            own = {label: filtered[0] if label == "this code" else (unfiltered or filtered)[0] for label in apis}
            answers = {label: client.get(url) for label, client in clients.items()}
            hits = answers["this code"].json()["meta"]["totalItems"]
            # A change that alters an answer is not an optimisation: byte for byte the baseline's.
            assert len({a.content for a in answers.values()}) == 1, f"{name}: the answers differ"
            steps = [(label, what) for label in apis for what in ("api", "raw")]
            times: dict[tuple[str, str], list[float]] = {step: [] for step in steps}
            for i in range(rounds + 20):
                for k in range(len(steps)):
                    label, what = steps[(i + k) % len(steps)]
                    t0 = time.perf_counter()
                    if what == "api":
                        resp = clients[label].get(url)
                    else:
                        target, body = own[label]
                        resp = raw.post(target, content=body, headers={"content-type": "application/json"})
                    elapsed = time.perf_counter() - t0
                    assert resp.status_code == 200, resp.text
                    if i >= 20:
                        times[(label, what)].append(elapsed)
            for label in apis:
                api_s, raw_s = times[(label, "api")], times[(label, "raw")]
                overhead = [a - r for a, r in zip(api_s, raw_s, strict=True)]
                out[label]["all"] += overhead
                out[label]["queries"][name] = {
                    "hits": hits,
                    "apiMs": summary_ms(api_s),
                    "engineCallMs": summary_ms(raw_s),
                    "overheadMs": summary_ms(overhead),
                }
                rows.append(
                    [name, label, hits]
                    + [f"{percentile(overhead, q) * 1000:.3f}" for q in (50, 95, 99)]
                    + [f"{percentile(api_s, 50) * 1000:.3f}", f"{percentile(raw_s, 50) * 1000:.3f}"]
                )
    finally:
        raw.close()
        for client in clients.values():
            client.close()
    print_table(
        f"Overhead against the instant engine, perPage 24, {rounds} rounds (ms)",
        ["query", "API", "hits", "overhead p50", "p95", "p99", "API p50", "engine call p50"],
        rows,
    )
    return {
        label: {"rounds": rounds, "queries": got["queries"], "allQueriesOverheadMs": summary_ms(got["all"])}
        for label, got in out.items()
    }


WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def wrk(base: str, connections: int, seconds: float, cores: str | None) -> dict[str, Any]:
    """requests/s of the mix, round robin, with `connections` keep-alive connections."""
    paths = ", ".join(json.dumps(u) for u in mix_urls().values())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % paths)
    threads = max(1, min(connections, 2))
    argv = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds:.0f}s",
        "--latency",
        "-s",
        script.name,
        base,
    ]
    if cores is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", cores, *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(g) for g in socket_errors.groups())
    lat = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M)}
    return {"connections": connections, "requests": total, "perSecond": rps, "errors": failed, "latency": lat}


def profile(pid: int, seconds: float, base: str, cores: str | None) -> dict[str, Any]:
    """py-spy on the API process while wrk saturates it, sampling the thread that holds the GIL
    (where the CPU goes, not where threads wait); self time grouped by where it is spent."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    out = Path(tempfile.mkdtemp()) / "profile.txt"
    spy_proc = subprocess.Popen(
        [
            spy,
            "record",
            "-p",
            str(pid),
            "-d",
            f"{seconds:.0f}",
            "-r",
            "500",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
            "--gil",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    wrk(base, 8, seconds - 2, cores)
    spy_proc.wait(60)
    groups: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        groups[_group(frames)] += n
        functions[frames[-1]] += n
    top = [{"function": f, "share": round(n / total, 3)} for f, n in functions.most_common(25)]
    shares = {g: round(n / total, 3) for g, n in groups.most_common()}
    print_table(
        "Where one saturated API process spends its CPU (py-spy, self time)", ["part", "share"], list(shares.items())
    )
    return {"samples": total, "groups": shares, "topFunctions": top}


_GROUPS = [
    (
        "JSON decode of the engine's answer",
        ("_decode (search_api/search/engine_call.py", "decoder.py", "loads (json", "deserializer", "serializer.py"),
    ),
    (
        "engine HTTP client (aiohttp; opensearch-py for start-up reads)",
        ("opensearchpy", "urllib3", "http/client.py", "socket.py", "aiohttp", "engine_call.py", "yarl", "multidict"),
    ),
    ("rendering listings (schemas/listing_doc.py)", ("listing_doc.py",)),
    ("parsing and query DSL (search_api)", ("parse.py", "dsl.py", "facets.py", "listing_query.py")),
    ("our middleware and routes (search_api)", ("search_api/",)),
    ("thread-pool hand-offs (anyio, starlette.concurrency)", ("anyio", "concurrency.py", "threading.py", "queue.py")),
    ("uvicorn, Starlette and FastAPI", ("uvicorn", "starlette", "fastapi", "httptools", "uvloop", "asyncio")),
]


def _group(frames: list[str]) -> str:
    leaf = frames[-1]
    for name, marks in _GROUPS:
        if any(m in leaf for m in marks):
            return name
    # Library code reached from ours counts where it was called from.
    for frame in reversed(frames):
        for name, marks in _GROUPS:
            if any(m in frame for m in marks):
                return name
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300, help="measured requests per query (latency)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput level")
    parser.add_argument("--connections", default="1,8,64", help="wrk connection counts for one process")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--real-rounds", type=int, default=100, help="rounds of the real-engine side-by-side")
    parser.add_argument("--baseline", metavar="REF", help="also measure the API of this git commit, side by side")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed for the throughput figures: apt-get install wrk")
    cores = os.cpu_count() or 1
    last = str(cores - 1)
    RESULTS.mkdir(exist_ok=True)
    recording = RESULTS / "instant_engine_recording.json"
    figures: dict[str, Any] = {"goals": GOALS}
    with engine() as eng, redis_url() as redis, services(eng.url, redis) as built:
        loaded = load_documents(built, list(events(boston(BOSTON), None, today=utc_today())))
        figures["listings"] = loaded
        baseline = checkout(args.baseline) if args.baseline else None
        figures["baseline"] = args.baseline
        figures["recordedAnswers"] = record(built, eng.url, recording, [None, *([baseline] if baseline else [])])
        port = free_port()
        engine_port = free_port()
        instant_url = f"http://127.0.0.1:{engine_port}"
        with instant("replay", recording, engine_port, cores=last):
            wait_http(f"{instant_url}/__misses")
            base = f"http://127.0.0.1:{port}"
            old_port = free_port()
            old_base = f"http://127.0.0.1:{old_port}"
            with api(built, instant_url, port, cores="0") as api_pid, contextlib.ExitStack() as old:
                wait_http(f"{base}/readyz")
                apis = {"this code": base}
                if baseline is not None:
                    old.enter_context(api(built, instant_url, old_port, cores="0", code=baseline))
                    wait_http(f"{old_base}/readyz")
                    apis[f"baseline {args.baseline}"] = old_base
                figures["latency"] = latency(built, apis, instant_url, recording, args.rounds)
                one = [wrk(base, int(c), args.seconds, last) for c in args.connections.split(",")]
                figures["oneProcess"] = one
                if baseline is not None:
                    figures["baselineOneProcess"] = [wrk(old_base, c, args.seconds, last) for c in (8, 64)]
                    print_table(
                        f"req/s of one process on core 0, side by side: this code / baseline {args.baseline}",
                        ["connections", "this code", "baseline", "ratio"],
                        [
                            [
                                b["connections"],
                                f"{t['perSecond']:.0f}",
                                f"{b['perSecond']:.0f}",
                                f"{t['perSecond'] / b['perSecond']:.2f}",
                            ]
                            for b in figures["baselineOneProcess"]
                            for t in one
                            if t["connections"] == b["connections"]
                        ],
                    )
                if not args.no_profile:
                    figures["profile"] = profile(api_pid, args.seconds + 2, base, last)
            print_table(
                "One API process on core 0 (wrk and the instant engine on the last core)",
                ["connections", "requests", "req/s", "errors", "p50", "p99"],
                [
                    [
                        t["connections"],
                        t["requests"],
                        f"{t['perSecond']:.0f}",
                        t["errors"],
                        t["latency"].get("50"),
                        t["latency"].get("99"),
                    ]
                    for t in one
                ],
            )
            scaling = []
            for n in range(1, cores + 1):
                with api(built, instant_url, port, workers=n):
                    wait_http(f"{base}/readyz")
                    time.sleep(1.0 if n == 1 else 2.0)  # every worker up
                    scaling.append({"workers": n, **wrk(base, 64, args.seconds, None)})
            figures["scaling"] = scaling
            print_table(
                "listing-search api --workers N, 64 connections (nothing pinned: wrk and the engine share the cores)",
                ["workers", "req/s", "errors", "x one worker"],
                [
                    [
                        s["workers"],
                        f"{s['perSecond']:.0f}",
                        s["errors"],
                        f"{s['perSecond'] / scaling[0]['perSecond']:.2f}",
                    ]
                    for s in scaling
                ],
            )
            misses = httpx.get(f"{instant_url}/__misses").json()
            figures["instantEngineMisses"] = misses["misses"]
            assert misses["misses"] == 0, f"the API asked the instant engine for something never recorded: {misses}"
        # The same run's side-by-side against the real engine (bench.query_overhead's figure),
        # unpinned as that benchmark runs.
        with api(built, eng.url, port):
            wait_http(f"{base}/readyz")
            figures["realEngine"] = _real_engine(built, base, args.real_rounds, args.seconds)
        figures["filterPath"] = filter_path_effect(built, args.real_rounds)
    figures["engine"] = eng.description
    write_results("api_throughput", eng.description, figures)


def filter_path_effect(built: Services, rounds: int) -> dict[str, Any]:
    """The one change the engine sees (`filter_path`): each query's `_search` with and without it,
    straight to the real engine, interleaved, and the bytes it answers."""
    from search_api.search.listings import FILTER_PATH

    live = live_index(built.engine, built.names)
    assert live is not None
    index = live.public_alias(built.names)
    transport = built.engine.transport
    rows, out = [], {}
    for name, params in storefront_queries().items():
        body = search_body(parse_listing_query(list({**params, "perPage": "24"}.items()), live.schemas))
        with_s: list[float] = []
        without_s: list[float] = []
        sizes: dict[str, int] = {}
        for i in range(rounds + 5):
            for which in ("with", "without") if i % 2 else ("without", "with"):
                query = {"filter_path": FILTER_PATH} if which == "with" else {}
                t0 = time.perf_counter()
                answer = transport.perform_request("POST", f"/{index}/_search", params=query, body=body)
                elapsed = time.perf_counter() - t0
                sizes[which] = len(orjson.dumps(answer))
                if i >= 5:
                    (with_s if which == "with" else without_s).append(elapsed)
        out[name] = {"withMs": summary_ms(with_s), "withoutMs": summary_ms(without_s), "bytes": sizes}
        rows.append(
            [
                name,
                f"{percentile(without_s, 50) * 1000:.2f}",
                f"{percentile(with_s, 50) * 1000:.2f}",
                f"{percentile(with_s, 50) / percentile(without_s, 50):.3f}",
                sizes["without"],
                sizes["with"],
            ]
        )
    print_table(
        f"filter_path on the real engine, {rounds} rounds (ms, p50; bytes re-encoded)",
        ["query", "without", "with", "ratio", "bytes without", "bytes with"],
        rows,
    )
    return out


def _real_engine(built: Services, base: str, rounds: int, seconds: float) -> dict[str, Any]:
    from bench.query_overhead import measure

    live = live_index(built.engine, built.names)
    ns = argparse.Namespace(rounds=rounds, clients="1,8", seconds=seconds)
    return measure(built, live, base, ns, 0)


__all__ = ["main"]

if __name__ == "__main__":
    main()
