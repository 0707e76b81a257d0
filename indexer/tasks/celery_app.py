"""Celery (Redis broker) runs the background jobs: rebuilds and re-syncs, the horizon roll, the
Sharetribe sync's polls and reconciliation (what each does: work.py; when: schedule.py).

Tasks carry the index and Redis prefixes of the deployment they act on, so the worker side
needs nothing but a way to build clients for those prefixes. The broker's keys live under the
deployment's Redis prefix, so deployments sharing one Redis never take each other's tasks.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from celery import Celery

from indexer.tasks.schedule import REBUILD_TASK, RECONCILE_TASK, ROLL_HORIZON_TASK, SYNC_TASK, beat_schedule
from indexer.tasks.work import ServicesFor, TaskWork
from infra.settings import Settings


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


def register_tasks(app: Celery, services: ServicesFor) -> None:
    """Celery's tasks: each calls its work (indexer/tasks/work.py); a sync tick that starts a re-sync
    queues it on this same app. Plain functions, not the bound methods: Celery checks a task's
    arguments against its signature, and reads a method's wrongly."""
    work = TaskWork(services, lambda settings: JobQueue(app, settings).enqueue_rebuild)

    # shared=False: a shared task would be added to every Celery app this process creates.
    @app.task(name=REBUILD_TASK, shared=False)  # type: ignore[untyped-decorator]
    def rebuild(job_id: str, index_prefix: str, redis_prefix: str) -> None:
        work.rebuild(job_id, index_prefix, redis_prefix)

    @app.task(name=ROLL_HORIZON_TASK, shared=False)  # type: ignore[untyped-decorator]
    def roll(index_prefix: str, redis_prefix: str) -> int:
        return work.roll_horizon(index_prefix, redis_prefix)

    @app.task(name=SYNC_TASK, shared=False)  # type: ignore[untyped-decorator]
    def sync_tick(index_prefix: str, redis_prefix: str) -> dict[str, Any]:
        return work.sync_tick(index_prefix, redis_prefix)

    @app.task(name=RECONCILE_TASK, shared=False)  # type: ignore[untyped-decorator]
    def reconcile(job_id: str | None, index_prefix: str, redis_prefix: str, repair: bool) -> None:
        work.reconcile(job_id, index_prefix, redis_prefix, repair)


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


__all__ = ["JobQueue", "job_worker_argv", "make_celery", "register_tasks"]
