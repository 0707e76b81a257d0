"""The Sharetribe sync: poll `events/query` into the intake, checkpoint in the same transaction.

One poll (a Celery beat tick) reads pages of events after the checkpoint and hands each page to
`intake.accept`, whose transaction also moves the checkpoint: events are queued ⇔ the
checkpoint covers them, so a crash anywhere neither skips nor loses a page (at worst a page is
read twice, and duplicates are harmless). A full page is followed at once by the next one.

With no checkpoint, or one not polled within Flex's event retention, events may be missing: the
poll then starts a full re-sync (a rebuild whose source is the Integration API) and continues
polling from a little before that moment, which is what the re-sync's snapshot reflects.

After the events, bookings still waiting for their listing are resolved: a booking event names
its transaction, not its listing (references/events "Resource data and previous values"), and
when no transaction event linked it (its transaction's events came before the checkpoint, or
were lost to retention) the poll asks `transactions/show` for the transaction's listing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.client import Pipeline

from indexer.jobs import records
from indexer.jobs.lease import Lease
from indexer.pipeline import booking_links, intake
from indexer.pipeline.booking_links import Link
from indexer.services import Services
from indexer.sharetribe.api import PAGE_SIZE, IntegrationApi, SharetribeError, SharetribeUnavailable
from indexer.sharetribe.checkpoint import (
    CREATED_AT_START,
    EVENTS,
    LAST_ERROR,
    LAST_ERROR_AT,
    PAGES,
    POLLED_AT,
    RESYNC_JOB,
    RESYNC_REASON,
    SEQ,
    Checkpoint,
    load_checkpoint,
)
from indexer.sharetribe.resync import start_resync

log = logging.getLogger(__name__)

# One poll at a time per deployment. The lease is renewed while the poll runs, so a jobs
# process killed mid-poll blocks its restart's ticks for at most this long.
LEASE_TTL_MS = 15_000
RESYNC_RETRY_S = 60.0
DAY_S = 86_400.0
# Waiting bookings: keys looked at per poll, and `transactions/show` requests per poll at most
# (keys Flex answered 404 for are skipped from the client's cache without a request, so they
# cannot hold back the ones behind them).
WAITING_SCAN = 1000
RESOLVE_PER_POLL = 100


@dataclass
class PollReport:
    pages: int = 0
    events: int = 0
    accepted: int = 0
    resync_job: str | None = None
    stopped_by: str | None = None
    # Waiting keys asked about with `transactions/show`, links found, bookings they released.
    links_asked: int = 0
    links_resolved: int = 0
    bookings_released: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "events": self.events,
            "accepted": self.accepted,
            "resyncJob": self.resync_job,
            "stoppedBy": self.stopped_by,
            "linksAsked": self.links_asked,
            "linksResolved": self.links_resolved,
            "bookingsReleased": self.bookings_released,
        }


def retention_safety_s(retention_days: float) -> float:
    """How much earlier than retention we give up on a checkpoint: a day, or a tenth if shorter."""
    return min(DAY_S, retention_days * DAY_S / 10)


def too_old(checkpoint: Checkpoint, services: Services, now_ms: int) -> bool:
    if checkpoint.polled_at_ms is None:
        return True
    days = services.settings.sync_retention_days
    limit_s = days * DAY_S - retention_safety_s(days)
    return (now_ms - checkpoint.polled_at_ms) / 1000 > limit_s


def poll(services: Services, api: IntegrationApi, *, enqueue: Callable[[str], None]) -> PollReport:
    """One beat tick: a re-sync if needed, then pages of events until a short page."""
    report = PollReport()
    lease = Lease(services.redis, services.keys.sync_lock, LEASE_TTL_MS)
    with lease as held:
        if not held:
            report.stopped_by = "another poll is running"
            return report
        return _poll(services, api, enqueue, report, lease)


def _poll(
    services: Services, api: IntegrationApi, enqueue: Callable[[str], None], report: PollReport, lease: Lease
) -> PollReport:
    r, keys, settings = services.redis, services.keys, services.settings
    try:
        checkpoint = load_checkpoint(services)
        now_ms = int(time.time() * 1000)
        if checkpoint.empty or too_old(checkpoint, services, now_ms):
            reason = "no checkpoint" if checkpoint.empty else "the checkpoint is older than the event retention"
            report.resync_job = start_resync(services, enqueue=enqueue, reason=reason, replay_from_now=True)
            checkpoint = load_checkpoint(services)
        elif (job := _failed_resync(services, now_ms)) is not None:
            # Events keep flowing from the checkpoint meanwhile; a re-sync started later is
            # just as correct (its snapshot is stamped from wherever the checkpoint is then).
            report.resync_job = start_resync(services, enqueue=enqueue, reason=f"retry after {job} failed")
        caught_up = False
        for _ in range(settings.sync_max_pages_per_run):
            if lease.lost:
                # Another poll may have started: reading on would only read the same pages twice.
                report.stopped_by = "the poll's lease expired (this process was stalled)"
                break
            page = api.events(after=checkpoint.sequence_id, created_at_start=checkpoint.created_at_start)
            report.pages += 1
            polled = int(time.time() * 1000)
            if not page:
                r.hset(keys.sync, POLLED_AT, polled)
                caught_up = True
                break
            seqs = [s for e in page if isinstance(s := ((e.get("attributes") or {}).get("sequenceId")), int)]
            newest = max(seqs) if seqs else checkpoint.sequence_id

            def advance(
                pipe: Pipeline, newest: int | None = newest, polled: int = polled, count: int = len(page)
            ) -> None:
                pipe.hset(
                    keys.sync, mapping={POLLED_AT: polled} if newest is None else {SEQ: newest, POLLED_AT: polled}
                )
                if newest is not None:
                    pipe.hdel(keys.sync, CREATED_AT_START)
                pipe.hincrby(keys.sync, PAGES, 1)
                pipe.hincrby(keys.sync, EVENTS, count)

            try:
                result = intake.accept(
                    r,
                    keys,
                    page,
                    max_pending=settings.max_pending_events,
                    limits=intake.event_limits(settings),
                    also=advance,
                )
            except intake.Backpressure as exc:
                report.stopped_by = f"backpressure: {exc}"
                break
            report.events += len(page)
            report.accepted += result.accepted
            checkpoint = Checkpoint(newest, None if newest is not None else checkpoint.created_at_start, polled)
            # A page with no readable sequenceId cannot move the checkpoint: stop rather than loop.
            if len(page) < PAGE_SIZE or newest is None:
                caught_up = len(page) < PAGE_SIZE
                break
        resolve_waiting(services, api, report, caught_up=caught_up)
        r.hdel(keys.sync, LAST_ERROR, LAST_ERROR_AT)
        return report
    except (SharetribeError, SharetribeUnavailable) as exc:
        r.hset(keys.sync, mapping={LAST_ERROR: str(exc)[:1000], LAST_ERROR_AT: int(time.time() * 1000)})
        report.stopped_by = str(exc)
        log.warning("sync stopped: %s (checkpoint unchanged)", exc)
        return report


def resolve_waiting(services: Services, api: IntegrationApi, report: PollReport, *, caught_up: bool) -> None:
    """Link bookings still waiting for their transaction's event.

    Flex emits a transition's booking events just before the transaction's own (references/
    events "Transaction process actions and booking, stock reservation and review events"), so
    a poll that read up to the end of the log has seen every transaction event it will soon:
    a booking still waiting then has its transaction before the checkpoint (or the log lags),
    and is resolved at once. A poll stopped early (page cap, backpressure) leaves the next poll
    to read on, and asks only about bookings that have waited a poll interval.

    A waiting key is usually a transaction id; `transactions/show` names its listing (and
    booking), and `booking_links.link` records that and releases the bookings into the stream.
    A key Flex does not know (404) may be a booking id whose transaction the index never saw:
    it keeps waiting, and the client's cache spares Flex the question for a while."""
    settings = services.settings
    keys = booking_links.waiting(
        services.redis,
        services.keys,
        older_than_ms=0 if caught_up else int(settings.sync_interval_seconds * 1000),
        limit=WAITING_SCAN,
    )
    links: list[Link] = []
    for key in keys:
        if report.links_asked >= RESOLVE_PER_POLL:
            break
        known, link = api.transactions.get(key)
        if not known:
            report.links_asked += 1
            link = api.transaction_links(key)
        if link is not None:
            links.append(link)
    if links:
        report.links_resolved = len(links)
        report.bookings_released = booking_links.link(services.redis, services.keys, links)


def _failed_resync(services: Services, now_ms: int) -> str | None:
    """The last re-sync, if it failed more than RESYNC_RETRY_S ago and must be tried again."""
    raw = services.redis.hget(services.keys.sync, RESYNC_JOB)
    if raw is None:
        return None
    job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
    rec = records.get(services.redis, services.keys, job_id)
    if rec is None or rec["state"] != records.FAILED:
        return None
    return job_id if now_ms - int(rec.get("finishedAt") or rec["updatedAt"]) > RESYNC_RETRY_S * 1000 else None


def sync_status(services: Services) -> dict[str, Any]:
    """The sync's part of `GET /v1/status`."""
    settings = services.settings
    raw: Any = services.redis.hgetall(services.keys.sync)
    got = {k.decode(): v.decode() for k, v in raw.items()}
    resync = got.get(RESYNC_JOB)
    rec = records.get(services.redis, services.keys, resync) if resync else None
    return {
        "configured": settings.sync_configured(),
        "baseUrl": settings.sharetribe_base_url if settings.sync_configured() else None,
        "checkpoint": {
            "sequenceId": int(got[SEQ]) if SEQ in got else None,
            "createdAtStart": got.get(CREATED_AT_START),
            "polledAt": int(got[POLLED_AT]) if POLLED_AT in got else None,
        },
        "pages": int(got.get(PAGES, 0)),
        "events": int(got.get(EVENTS, 0)),
        "lastError": got.get(LAST_ERROR),
        "lastErrorAt": int(got[LAST_ERROR_AT]) if LAST_ERROR_AT in got else None,
        "resync": None
        if rec is None
        else {"job": resync, "state": rec["state"], "phase": rec.get("phase"), "reason": got.get(RESYNC_REASON)},
    }
