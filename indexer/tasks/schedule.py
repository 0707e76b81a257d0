"""The periodic jobs, declared once: Celery beat (`listing-search jobs --beat`) and the dev
runner's loops (`listing-search dev`, which has no beat) both read this table, so a job added
here runs in both.

| job | when | only with the Sharetribe sync |
|---|---|---|
| roll-horizon | daily 00:05 UTC (the availability horizon moves at 00:00) | no |
| sharetribe-sync | every `LISTING_SEARCH_SYNC_INTERVAL_SECONDS` | yes |
| reconcile | daily 03:30 UTC | yes |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from celery.schedules import crontab

from infra.settings import Settings

REBUILD_TASK: Final = "listing_search.rebuild"
ROLL_HORIZON_TASK: Final = "listing_search.roll_horizon"
SYNC_TASK: Final = "listing_search.sync"
RECONCILE_TASK: Final = "listing_search.reconcile"


@dataclass(frozen=True)
class Every:
    """Every so many seconds, read from a setting."""

    setting: str

    def seconds(self, settings: Settings) -> float:
        return float(getattr(settings, self.setting))


@dataclass(frozen=True)
class DailyAt:
    """Once a day at hour:minute UTC."""

    hour: int
    minute: int


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    when: Every | DailyAt
    needs_sync: bool

    def enabled(self, settings: Settings) -> bool:
        return settings.sync_configured() or not self.needs_sync

    def next_run(self, settings: Settings, after: datetime) -> datetime:
        """When the dev loop runs it next, strictly after `after` (a UTC datetime)."""
        if isinstance(self.when, Every):
            return after + timedelta(seconds=self.when.seconds(settings))
        at = after.astimezone(UTC).replace(hour=self.when.hour, minute=self.when.minute, second=0, microsecond=0)
        return at if at > after else at + timedelta(days=1)


SCHEDULE: Final = (
    Periodic("roll-horizon", ROLL_HORIZON_TASK, DailyAt(0, 5), needs_sync=False),
    Periodic("sharetribe-sync", SYNC_TASK, Every("sync_interval_seconds"), needs_sync=True),
    Periodic("reconcile", RECONCILE_TASK, DailyAt(3, 30), needs_sync=True),
)


def enabled(settings: Settings) -> list[Periodic]:
    return [job for job in SCHEDULE if job.enabled(settings)]


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The schedule as Celery beat takes it. Tasks carry the deployment's prefixes."""
    prefixes = [settings.index_prefix, settings.redis_prefix]
    out: dict[str, dict[str, Any]] = {}
    for job in enabled(settings):
        entry: dict[str, Any] = {"task": job.task, "args": prefixes}
        if isinstance(job.when, Every):
            interval = job.when.seconds(settings)
            entry["schedule"] = interval
            # A tick that waited longer than the interval is superseded by the next one.
            entry["options"] = {"expires": max(1.0, interval)}
        else:
            entry["schedule"] = crontab(minute=job.when.minute, hour=job.when.hour)
        if job.task == RECONCILE_TASK:
            entry["args"] = [None, *prefixes, True]  # a new job record, repairs on
        out[job.name] = entry
    return out
