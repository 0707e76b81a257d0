"""Celery (Redis broker) runs the background jobs: today the rebuild.

The broker's keys live under the deployment's Redis prefix, so several deployments (or test
runs) can share one Redis without taking each other's tasks.
"""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from indexer.context import Services
from indexer.rebuild import run_rebuild
from infra.settings import Settings

REBUILD_TASK = "listing_search.rebuild"


def make_celery(settings: Settings) -> Celery:
    app = Celery("listing_search", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        broker_transport_options={"global_keyprefix": f"{settings.redis_prefix}celery:"},
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        # A job whose worker dies is delivered again; the rebuild restarts cleanly.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        task_default_queue="listing-search-jobs",
    )
    return app


def register_tasks(app: Celery, services: Callable[[], Services]) -> None:
    @app.task(name=REBUILD_TASK)  # type: ignore[untyped-decorator]
    def rebuild(job_id: str) -> None:
        run_rebuild(services(), job_id)


class JobQueue:
    """The producer side: what the API uses to start jobs."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue_rebuild(self, job_id: str) -> None:
        self.app.send_task(REBUILD_TASK, args=[job_id])


def job_worker_argv(concurrency: int = 1) -> list[str]:
    return [
        "worker",
        "--pool=threads",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


__all__ = ["REBUILD_TASK", "JobQueue", "make_celery", "register_tasks"]
