"""Processes started as users start them (`listing-search dev`, `worker`, `jobs`), and stopped the
two ways they end: asked to stop (SIGTERM, then SIGKILL to whatever is left after a grace), or
crashed (SIGKILL to the whole process group at once).

Every process here runs in a session of its own, so its children (uvicorn's workers, beat's child)
go with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import redis

from listing_search.runner import cli_command, free_port, stop_process_group


def stop(proc: subprocess.Popen[Any], grace: float = 30.0) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever is left of it after `grace` seconds."""
    if proc.poll() is None:
        stop_process_group(proc, signal.SIGTERM, grace=grace)


def crash(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL the whole group at once, as a container or host crash would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@dataclass
class DevProcess:
    proc: subprocess.Popen[str]
    base: str
    redis_prefix: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def drop_redis_prefix(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        stale = list(client.scan_iter(match=f"{prefix}*"))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


@contextmanager
def dev_process(
    redis_url: str,
    *,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = ("OPENSEARCH_URL",),
    ready: Callable[[str], bool] = healthy,
    timeout: float = 90.0,
    redis_prefix: str | None = None,
) -> Iterator[DevProcess]:
    """`listing-search dev --port <free> *args`, as a newcomer starts it: the environment without the
    names in `unset` (by default no OPENSEARCH_URL, so the embedded engine), plus `env`, a Redis
    prefix of its own and an operator token. Yields once `ready(base)` holds; afterwards the process
    group is stopped and the prefix's Redis keys deleted."""
    prefix = redis_prefix or f"lstest-dev-{uuid.uuid4().hex[:8]}:"
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    environ.update(REDIS_URL=redis_url, LISTING_SEARCH_REDIS_PREFIX=prefix)
    environ.setdefault("LISTING_SEARCH_OPERATOR_TOKEN", "dev-test-token")
    environ.update(env or {})
    # A file, not a pipe: a pipe nobody reads fills up (64 KiB) and then blocks the process.
    log: IO[str] = tempfile.NamedTemporaryFile("w+", prefix="listing-search-dev-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [*cli_command(), "dev", "--port", str(port), *args],
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    dev = DevProcess(proc, f"http://127.0.0.1:{port}", prefix, Path(log.name))
    try:
        deadline = time.monotonic() + timeout
        while not ready(dev.base):
            assert proc.poll() is None, f"listing-search dev exited ({proc.returncode}):\n{dev.log()[-5000:]}"
            assert time.monotonic() < deadline, f"listing-search dev not ready in {timeout:g} s:\n{dev.log()[-5000:]}"
            time.sleep(0.2)
        yield dev
    finally:
        stop(proc, grace=20)
        log.close()
        drop_redis_prefix(redis_url, prefix)
        with contextlib.suppress(OSError):
            os.unlink(log.name)
