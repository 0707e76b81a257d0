"""Celery (Redis broker) runs the background jobs: rebuilds and re-syncs, the horizon roll, the
Sharetribe sync's polls and reconciliation.

Tasks carry the index and Redis prefixes of the deployment they act on, so the worker side
needs nothing but a way to build clients for those prefixes. The broker's keys live under the
deployment's Redis prefix, so deployments sharing one Redis never take each other's tasks.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from functools import cache
from typing import Any

from celery import Celery
from celery.schedules import crontab

from indexer.context import Services
from indexer.horizon import roll_horizon
from indexer.rebuild import run_rebuild
from indexer.sharetribe.api import IntegrationApi
from indexer.sharetribe.poller import poll
from indexer.sharetribe.reconcile import run_reconcile, start_reconcile
from infra.settings import Settings

REBUILD_TASK = "listing_search.rebuild"
ROLL_HORIZON_TASK = "listing_search.roll_horizon"
SYNC_TASK = "listing_search.sync"
RECONCILE_TASK = "listing_search.reconcile"

ServicesFor = Callable[[str, str], Services]


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    prefixes = [settings.index_prefix, settings.redis_prefix]
    # The availability horizon moves at 00:00 UTC; roll it a few minutes after (`jobs --beat`).
    schedule: dict[str, dict[str, Any]] = {
        "roll-horizon": {"task": ROLL_HORIZON_TASK, "schedule": crontab(minute=5, hour=0), "args": prefixes}
    }
    if settings.sync_configured():
        schedule["sharetribe-sync"] = {
            "task": SYNC_TASK,
            "schedule": settings.sync_interval_seconds,
            "args": prefixes,
            # A tick that waited longer than the interval is superseded by the next one.
            "options": {"expires": max(1.0, settings.sync_interval_seconds)},
        }
        schedule["reconcile"] = {
            "task": RECONCILE_TASK,
            "schedule": crontab(minute=30, hour=3),
            "args": [None, *prefixes, True],
        }
    return schedule


def make_celery(settings: Settings, *, broker_prefix: str | None = None) -> Celery:
    app = Celery("listing_search", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        broker_transport_options={"global_keyprefix": broker_prefix or f"{settings.redis_prefix}celery:"},
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        # A job whose worker dies is delivered again; the rebuild restarts cleanly.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        task_default_queue="listing-search-jobs",
        beat_schedule=beat_schedule(settings),
        timezone="UTC",
    )
    return app


def services_for(settings: Settings, engine_url: str) -> ServicesFor:
    """Clients for a deployment's prefixes, built once per pair."""

    @cache
    def build(index_prefix: str, redis_prefix: str) -> Services:
        scoped = settings.model_copy(update={"index_prefix": index_prefix, "redis_prefix": redis_prefix})
        return Services.from_settings(scoped, engine_url=engine_url)

    return build


def register_tasks(app: Celery, services: ServicesFor) -> None:
    # shared=False: a shared task would be added to every Celery app this process creates.
    @app.task(name=REBUILD_TASK, shared=False)  # type: ignore[untyped-decorator]
    def rebuild(job_id: str, index_prefix: str, redis_prefix: str) -> None:
        run_rebuild(services(index_prefix, redis_prefix), job_id)

    @app.task(name=ROLL_HORIZON_TASK, shared=False)  # type: ignore[untyped-decorator]
    def roll(index_prefix: str, redis_prefix: str) -> int:
        return roll_horizon(services(index_prefix, redis_prefix))

    @cache
    def integration_api(index_prefix: str, redis_prefix: str) -> IntegrationApi:
        # One client per deployment, so its token lives across ticks (Flex's lasts hours).
        return IntegrationApi.from_settings(services(index_prefix, redis_prefix).settings)

    @app.task(name=SYNC_TASK, shared=False)  # type: ignore[untyped-decorator]
    def sync_tick(index_prefix: str, redis_prefix: str) -> dict[str, Any]:
        scoped = services(index_prefix, redis_prefix)
        enqueue = JobQueue(app, scoped.settings).enqueue_rebuild
        return poll(scoped, integration_api(index_prefix, redis_prefix), enqueue=enqueue).as_json()

    @app.task(name=RECONCILE_TASK, shared=False)  # type: ignore[untyped-decorator]
    def reconcile(job_id: str | None, index_prefix: str, redis_prefix: str, repair: bool) -> None:
        scoped = services(index_prefix, redis_prefix)
        run_reconcile(scoped, job_id or start_reconcile(scoped, reason="nightly", repair=repair), repair=repair)


class JobQueue:
    """The producer side: what the API uses to start jobs for its deployment."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def enqueue_rebuild(self, job_id: str) -> None:
        self.app.send_task(REBUILD_TASK, args=[job_id, self.settings.index_prefix, self.settings.redis_prefix])

    def enqueue_reconcile(self, job_id: str, *, repair: bool) -> None:
        self.app.send_task(
            RECONCILE_TASK, args=[job_id, self.settings.index_prefix, self.settings.redis_prefix, repair]
        )


def job_worker_argv(concurrency: int = 1, *, beat: bool = False, redis_prefix: str = "ls:") -> list[str]:
    argv = [
        "worker",
        "--pool=threads",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    # Embedded beat: run exactly one `jobs --beat` per deployment, or the roll is queued twice
    # (harmless, the refresh is idempotent, but wasted work; a second sync tick waits for the
    # first one's lock). Its schedule file is per deployment.
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", redis_prefix)
    schedule = os.path.join(tempfile.gettempdir(), f"listing-search-beat-{tag}")
    return [*argv, "--beat", f"--schedule={schedule}"] if beat else argv


__all__ = [
    "REBUILD_TASK",
    "RECONCILE_TASK",
    "ROLL_HORIZON_TASK",
    "SYNC_TASK",
    "JobQueue",
    "make_celery",
    "register_tasks",
    "services_for",
]
