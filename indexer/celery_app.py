"""Celery (Redis broker) runs the background jobs: today the rebuild.

Tasks carry the index and Redis prefixes of the deployment they act on, so the worker side
needs nothing but a way to build clients for those prefixes. The broker's keys live under the
deployment's Redis prefix, so deployments sharing one Redis never take each other's tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from celery import Celery
from celery.schedules import crontab

from indexer.context import Services
from indexer.horizon import roll_horizon
from indexer.rebuild import run_rebuild
from infra.settings import Settings

REBUILD_TASK = "listing_search.rebuild"
ROLL_HORIZON_TASK = "listing_search.roll_horizon"

ServicesFor = Callable[[str, str], Services]


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
        # The availability horizon moves at 00:00 UTC; roll it a few minutes after (`jobs --beat`).
        beat_schedule={
            "roll-horizon": {
                "task": ROLL_HORIZON_TASK,
                "schedule": crontab(minute=5, hour=0),
                "args": [settings.index_prefix, settings.redis_prefix],
            }
        },
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


class JobQueue:
    """The producer side: what the API uses to start jobs for its deployment."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def enqueue_rebuild(self, job_id: str) -> None:
        self.app.send_task(REBUILD_TASK, args=[job_id, self.settings.index_prefix, self.settings.redis_prefix])


def job_worker_argv(concurrency: int = 1, *, beat: bool = False) -> list[str]:
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
    # (harmless, the refresh is idempotent, but wasted work).
    return [*argv, "--beat", "--schedule=/tmp/listing-search-beat-schedule"] if beat else argv


__all__ = ["REBUILD_TASK", "ROLL_HORIZON_TASK", "JobQueue", "make_celery", "register_tasks", "services_for"]
