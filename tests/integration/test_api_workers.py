"""`listing-search api --workers N`: N processes behind one port, one query-latency histogram."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from listing_search.runner import cli_command, free_port, stop_process_group
from tests.support.events import listing_event, new_id
from tests.support.service import OPERATOR_TOKEN, running_service


def children(pid: int) -> set[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def metric(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


def test_two_worker_processes_serve_one_port_and_count_together(engine_url: str, redis_url: str) -> None:
    with running_service(engine_url, redis_url) as svc:
        ids = [new_id() for _ in range(3)]
        svc.send([listing_event(i + 1, lid) for i, lid in enumerate(ids)])
        svc.wait_searchable()
        port = free_port()
        s = svc.services.settings
        env = {
            **os.environ,
            "OPENSEARCH_URL": engine_url,
            "REDIS_URL": redis_url,
            "LISTING_SEARCH_INDEX_PREFIX": s.index_prefix,
            "LISTING_SEARCH_REDIS_PREFIX": s.redis_prefix,
            "LISTING_SEARCH_OPERATOR_TOKEN": OPERATOR_TOKEN,
        }
        proc = subprocess.Popen(
            [*cli_command(), "api", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, proc)
            _wait(lambda: len(children(proc.pid)) >= 2, proc)
            searches = 40
            with httpx.Client(base_url=base, timeout=10) as client:
                for _ in range(searches):
                    # A new connection each time, so both processes get some of them.
                    resp = client.get("/v1/api/listings/query", headers={"Connection": "close"})
                    assert resp.status_code == 200 and len(resp.json()["data"]) == 3

                def counted() -> bool:
                    text = client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}).text
                    return metric(text, "listing_search_query_seconds_count") >= searches

                # Each process adds its searches to the instance's histogram within a second.
                _wait(counted, proc)
        finally:
            stop_process_group(proc, signal.SIGINT, grace=20)
        assert proc.returncode in (0, -signal.SIGINT), proc.stderr.read() if proc.stderr else ""


def _wait(check: object, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_worker_count_below_one_is_refused(engine_url: str) -> None:
    run = subprocess.run(
        [*cli_command(), "api", "--workers", "0"],
        env={**os.environ, "OPENSEARCH_URL": engine_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "--workers: at least 1" in run.stderr
