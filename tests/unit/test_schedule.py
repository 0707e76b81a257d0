"""One schedule for Celery beat and the dev loops: the same jobs, at the same times, with arguments
their tasks accept (a beat tick whose arguments a task refuses is only an error in beat's log)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from indexer.tasks.celery_app import make_celery, register_tasks
from indexer.tasks.schedule import SCHEDULE, DailyAt, Every, beat_schedule, enabled
from indexer.tasks.work import services_for
from infra.settings import Settings

PLAIN = Settings(opensearch_url="http://127.0.0.1:9")
SYNCED = Settings(
    opensearch_url="http://127.0.0.1:9",
    sharetribe_client_id="id",
    sharetribe_client_secret="secret",  # type: ignore[arg-type]
    sync_interval_seconds=7.0,
)


@pytest.mark.parametrize("settings", [PLAIN, SYNCED], ids=["no sync", "sync"])
def test_beat_runs_exactly_the_enabled_jobs_with_arguments_their_tasks_take(settings: Settings) -> None:
    beat = beat_schedule(settings)
    assert set(beat) == {job.name for job in enabled(settings)}
    app = make_celery(settings)
    register_tasks(app, services_for(settings, "http://127.0.0.1:9"))
    for entry in beat.values():
        # What Celery itself checks before sending (`Task.__header__`): a TypeError if refused.
        app.tasks[entry["task"]].__header__(*entry["args"])


def test_without_the_sync_only_the_horizon_roll_runs() -> None:
    assert [job.name for job in enabled(PLAIN)] == ["roll-horizon"]
    assert {job.name for job in enabled(SYNCED)} == {job.name for job in SCHEDULE}


def test_dev_and_beat_agree_on_when() -> None:
    beat = beat_schedule(SYNCED)
    after = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    for job in enabled(SYNCED):
        schedule = beat[job.name]["schedule"]
        if isinstance(job.when, Every):
            assert schedule == SYNCED.sync_interval_seconds == 7.0
            assert job.next_run(SYNCED, after) == after + timedelta(seconds=7)
        else:
            assert isinstance(job.when, DailyAt)
            assert schedule.hour == {job.when.hour} and schedule.minute == {job.when.minute}
            due = job.next_run(SYNCED, after)
            assert (due.hour, due.minute) == (job.when.hour, job.when.minute)
            assert after < due <= after + timedelta(days=1)
    roll = next(job for job in SCHEDULE if job.name == "roll-horizon")
    just_before = datetime(2027, 3, 1, 0, 4, 59, tzinfo=UTC)
    assert roll.next_run(PLAIN, just_before) == datetime(2027, 3, 1, 0, 5, tzinfo=UTC)
    assert roll.next_run(PLAIN, datetime(2027, 3, 1, 0, 5, tzinfo=UTC)) == datetime(2027, 3, 2, 0, 5, tzinfo=UTC)
