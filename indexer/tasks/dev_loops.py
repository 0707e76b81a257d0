"""The schedule (schedule.py) without Celery beat, for `listing-search dev`: one thread per
enabled periodic job calls its work (work.py) directly when it is due, so dev runs the same
jobs at the same times as a deployment with `listing-search jobs --beat`."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from indexer.tasks.schedule import Every, Periodic, beat_schedule, enabled
from indexer.tasks.work import TaskWork
from infra.settings import Settings

log = logging.getLogger(__name__)


def start_loops(settings: Settings, work: TaskWork, stop: threading.Event) -> list[threading.Thread]:
    args = {name: entry["args"] for name, entry in beat_schedule(settings).items()}
    threads = []
    for job in enabled(settings):
        thread = threading.Thread(
            target=_loop, args=(settings, work, job, args[job.name], stop), name=f"periodic-{job.name}", daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads


def _loop(settings: Settings, work: TaskWork, job: Periodic, args: list[object], stop: threading.Event) -> None:
    run = work.by_task()[job.task]
    # A job that repeats every few seconds (the sync) runs at once, as beat's first tick would.
    due = datetime.now(UTC) if isinstance(job.when, Every) else job.next_run(settings, datetime.now(UTC))
    while not stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
        try:
            result = run(*args)
            if isinstance(result, dict) and (result.get("events") or result.get("resyncJob")):
                log.info("%s: %s", job.name, result)
        except Exception:
            log.exception("%s failed; it runs again at its next time", job.name)
        due = job.next_run(settings, datetime.now(UTC))
