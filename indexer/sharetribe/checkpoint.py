"""Where the Sharetribe sync stands: one Redis hash, written with the events it covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from indexer.services import Services

SEQ, CREATED_AT_START, POLLED_AT = "sequenceId", "createdAtStart", "polledAt"
LAST_ERROR, LAST_ERROR_AT, RESYNC_JOB, RESYNC_REASON = "lastError", "lastErrorAt", "resyncJob", "resyncReason"
PAGES, EVENTS = "pages", "events"


@dataclass(frozen=True)
class Checkpoint:
    sequence_id: int | None
    created_at_start: str | None
    polled_at_ms: int | None

    @property
    def empty(self) -> bool:
        return self.sequence_id is None and self.created_at_start is None


def load_checkpoint(services: Services) -> Checkpoint:
    raw: Any = services.redis.hgetall(services.keys.sync)
    got = {k.decode(): v.decode() for k, v in raw.items()}
    return Checkpoint(
        int(got[SEQ]) if SEQ in got else None,
        got.get(CREATED_AT_START),
        int(got[POLLED_AT]) if POLLED_AT in got else None,
    )


def flex_timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def replay_start(services: Services) -> str:
    """Where polling resumes after a re-sync: a clock margin before now (replaying is harmless)."""
    since = datetime.now(UTC) - timedelta(seconds=services.settings.sync_clock_margin_seconds)
    return flex_timestamp(since)
