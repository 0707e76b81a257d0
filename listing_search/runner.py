"""Running the pieces in one process: the dev command and the test suite both use this."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from celery import Celery
from celery.contrib.testing.worker import start_worker as start_celery_worker
from fastapi import FastAPI

from indexer.index.lifecycle import drop_all, ensure_index_when_ready
from indexer.pipeline.worker import Worker
from indexer.redis_keys import drop_prefixed
from indexer.services import Services
from indexer.tasks.celery_app import make_celery, register_tasks
from indexer.tasks.work import services_for
from infra.settings import Settings
from search_api.app import create_app

log = logging.getLogger(__name__)


@dataclass
class WorkerThread:
    worker: Worker
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop_event,), name="worker", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 30) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)


def new_worker(services: Services, *, consumer: str | None = None) -> Worker:
    """A stream worker on these clients, its consumer group made, not yet running."""
    worker = Worker(
        settings=services.settings,
        engine=services.engine,
        redis_client=services.redis,
        names=services.names,
        keys=services.keys,
        consumer=consumer,
    )
    worker.ensure_group()
    return worker


def start_worker(services: Services, *, consumer: str | None = None) -> WorkerThread:
    handle = WorkerThread(new_worker(services, consumer=consumer))
    handle.start()
    return handle


def cli_command() -> list[str]:
    """How to start `listing-search` as a process of its own, installed script or not."""
    script = Path(sys.executable).parent / "listing-search"
    return [str(script)] if script.exists() else [sys.executable, "-m", "listing_search"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerThread:
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def stop_process_group(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, grace: float = 30.0) -> None:
    """Stop a process started with `start_new_session=True`, and its children (uvicorn's workers,
    beat's child): `sig` to the group, `grace` seconds, then SIGKILL to whatever is left of it.
    The leader's own exit status is kept when it stopped in time."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def serve_in_thread(app: FastAPI, *, host: str = "127.0.0.1", port: int | None = None) -> ServerThread:
    port = port or free_port()
    # The app's own setting; an app without services (a test's proxy) gets the setting's default.
    services = getattr(app.state, "services", None)
    keep_alive: int = (
        services.settings.keep_alive_seconds
        if services is not None
        else Settings.model_fields["keep_alive_seconds"].default
    )
    # proxy_headers off: the app decides whom X-Forwarded-For is believed from (LISTING_SEARCH_TRUSTED_PROXIES).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        timeout_keep_alive=keep_alive,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"API server did not start on {host}:{port}")
        time.sleep(0.01)
    return ServerThread(server, thread, f"http://{host}:{port}")


@contextmanager
def job_worker_in_thread(settings: Settings, engine_url: str, *, broker_prefix: str | None = None) -> Iterator[Celery]:
    """A real Celery worker (Redis broker) on a thread, for dev and tests; production runs
    `listing-search jobs`. Only one per process: Celery's worker state is process-wide."""
    app = make_celery(settings, broker_prefix=broker_prefix)
    register_tasks(app, services_for(settings, engine_url))
    with start_celery_worker(
        app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=60
    ):
        yield app


def build_services(settings: Settings, *, engine_url: str) -> Services:
    """Clients for the settings, once the index is there: while the engine is away or refuses the
    connection (credentials, TLS), each attempt logs one line saying what to fix, and waits."""
    services = Services.from_settings(settings, engine_url=engine_url)
    ensure_index_when_ready(services.engine, settings, services.names, threading.Event())
    return services


@contextmanager
def scratch_deployment(settings: Settings, *, engine_url: str) -> Iterator[Services]:
    """A deployment under its own index and Redis key prefixes, removed afterwards: its indices,
    aliases and template, and every key under its prefix (tests and benchmarks)."""
    services = build_services(settings, engine_url=engine_url)
    try:
        yield services
    finally:
        drop_all(services.engine, services.names)
        drop_prefixed(services.redis, settings.redis_prefix)
        services.redis.close()


__all__ = [
    "ServerThread",
    "WorkerThread",
    "build_services",
    "cli_command",
    "create_app",
    "job_worker_in_thread",
    "scratch_deployment",
    "serve_in_thread",
    "start_worker",
]
