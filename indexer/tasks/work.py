"""What each background task does, for one process: Celery's tasks (celery_app.py) call these,
and so do the dev runner's periodic loops (schedule.py), so a task does the same thing wherever
it runs.

Tasks carry the index and Redis prefixes of the deployment they act on; `services` builds (once
per pair) the clients for them, so one jobs process serves any number of deployments.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from indexer.pipeline.horizon_roll import roll_horizon
from indexer.rebuild.job import run_rebuild
from indexer.services import Services
from indexer.sharetribe.api import IntegrationApi
from indexer.sharetribe.poller import poll
from indexer.sharetribe.reconcile import run_reconcile, start_reconcile
from indexer.sharetribe.resync import ResyncRound
from indexer.tasks.schedule import REBUILD_TASK, RECONCILE_TASK, ROLL_HORIZON_TASK, SYNC_TASK
from infra.settings import Settings

ServicesFor = Callable[[str, str], Services]
# How a task that starts a rebuild (a sync tick's re-sync) queues it: per deployment's settings.
EnqueueFor = Callable[[Settings], Callable[[str], None]]


def services_for(settings: Settings, engine_url: str) -> ServicesFor:
    """Clients for a deployment's prefixes, built once per pair."""

    @cache
    def build(index_prefix: str, redis_prefix: str) -> Services:
        scoped = settings.model_copy(update={"index_prefix": index_prefix, "redis_prefix": redis_prefix})
        return Services.from_settings(scoped, engine_url=engine_url)

    return build


class TaskWork:
    def __init__(self, services: ServicesFor, enqueue_for: EnqueueFor) -> None:
        self.services = services
        self.enqueue_for = enqueue_for
        # One Integration API client per deployment, so its token lives across ticks (Flex's lasts hours).
        self._apis: dict[tuple[str, str], IntegrationApi] = {}

    def rebuild(self, job_id: str, index_prefix: str, redis_prefix: str) -> None:
        # The re-sync is the rebuild's one other source of rounds.
        run_rebuild(self.services(index_prefix, redis_prefix), job_id, resync_source=ResyncRound)

    def roll_horizon(self, index_prefix: str, redis_prefix: str) -> int:
        return roll_horizon(self.services(index_prefix, redis_prefix))

    def sync_tick(self, index_prefix: str, redis_prefix: str) -> dict[str, Any]:
        scoped = self.services(index_prefix, redis_prefix)
        api = self._apis.get((index_prefix, redis_prefix))
        if api is None:
            api = self._apis.setdefault((index_prefix, redis_prefix), IntegrationApi.from_settings(scoped.settings))
        return poll(scoped, api, enqueue=self.enqueue_for(scoped.settings)).as_json()

    def reconcile(self, job_id: str | None, index_prefix: str, redis_prefix: str, repair: bool) -> None:
        scoped = self.services(index_prefix, redis_prefix)
        run_reconcile(scoped, job_id or start_reconcile(scoped, reason="nightly", repair=repair), repair=repair)

    def by_task(self) -> dict[str, Callable[..., Any]]:
        """Each task name's work (the names Celery and the schedule use)."""
        return {
            REBUILD_TASK: self.rebuild,
            ROLL_HORIZON_TASK: self.roll_horizon,
            SYNC_TASK: self.sync_tick,
            RECONCILE_TASK: self.reconcile,
        }
