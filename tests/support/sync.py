"""Helpers for the Sharetribe sync tests: a stand-in server per test, a driver that plays the job
worker's part in-process, and the comparison of the index with what Flex itself would show.

The comparison reads the index only through the public search API (`ids`, `minStock`,
`stockMode`, `start`/`end`/`seats`), and its expectations come from tests/flex_oracle.py, which
computes them from the stand-in marketplace's records by Sharetribe's documented rules. Nothing
here replays events through our own classify/merge/build_document: a mistake there would agree
with itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from indexer.jobs import records
from indexer.rebuild.job import run_rebuild
from indexer.sharetribe.api import IntegrationApi
from indexer.sharetribe.poller import PollReport, poll
from indexer.sharetribe.resync import ResyncRound
from listing_search.runner import serve_in_thread
from tests.support import flex_oracle
from tests.support.service import Service, running_service
from tests.support.sharetribe_standin import CLIENT_ID, CLIENT_SECRET, Marketplace, StandIn, parse_ts

# How far ahead availability is compared, and at which seat counts (the random marketplaces'
# plans have 2 seats a day; exceptions 0-2).
AVAILABILITY_DAYS = 10
SEAT_LEVELS = (1, 2, 3)
# `stockMode=match-undefined` with a minimum no stock reaches: exactly the listings without stock.
NO_STOCK_REACHES = 10**9
# The event families the index needs (the brief's "polite polling": no others are asked for).
SYNC_FAMILIES = ("listing", "availabilityException", "booking", "stockAdjustment", "transaction")


@contextmanager
def standin(market: Marketplace | None = None, **options: Any) -> Iterator[tuple[StandIn, str]]:
    stand = StandIn(market or Marketplace(), **options)
    server = serve_in_thread(stand.app())
    try:
        yield stand, server.url
    finally:
        server.stop()


def sync_settings(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "sharetribe_base_url": url,
        "sharetribe_client_id": CLIENT_ID,
        "sharetribe_client_secret": CLIENT_SECRET,
        "sync_retry_max_seconds": 0.2,
        "sync_give_up_seconds": 20.0,
        # The client-side rate limit is off unless a test turns it on (test_polling_is_polite):
        # the stand-in limits nothing unless asked, and Flex's dev rate would make tests crawl.
        "sync_rate_limit_per_second": 0.0,
        **extra,
    }


@contextmanager
def synced(
    engine_url: str, redis_url: str, *, standin_options: dict[str, Any] | None = None, **settings: Any
) -> Iterator[tuple[StandIn, Service, Driver]]:
    """A stand-in marketplace, a service syncing from it, and the driver that ticks the sync."""
    with (
        standin(**(standin_options or {})) as (stand, url),
        running_service(engine_url, redis_url, **sync_settings(url, **settings)) as svc,
    ):
        driver = Driver(svc)
        try:
            yield stand, svc, driver
        finally:
            driver.close()


class Driver:
    """Beat ticks by hand; the re-sync rebuilds run on threads, as the job worker would run them."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.api = IntegrationApi.from_settings(svc.services.settings)
        self.threads: list[threading.Thread] = []
        self.job_ids: list[str] = []
        self.errors: list[BaseException] = []

    def enqueue(self, job_id: str) -> None:
        def run() -> None:
            try:
                run_rebuild(self.svc.services, job_id, resync_source=ResyncRound)
            except BaseException as exc:  # surfaced by settle()
                self.errors.append(exc)

        self.job_ids.append(job_id)
        thread = threading.Thread(target=run, name=f"rebuild-{job_id[:8]}", daemon=True)
        thread.start()
        self.threads.append(thread)

    def poll(self) -> PollReport:
        return poll(self.svc.services, self.api, enqueue=self.enqueue)

    def settle(self, timeout: float = 180.0) -> None:
        """Poll until nothing new arrives and no re-sync runs, then wait until all is searchable."""
        deadline = time.monotonic() + timeout
        while True:
            report = self.poll()
            busy = any(t.is_alive() for t in self.threads)
            if report.events == 0 and not busy and report.stopped_by is None:
                break
            assert time.monotonic() < deadline, f"sync did not settle: {report}"
            time.sleep(0.05)
        assert not self.errors, self.errors
        for job_id in self.job_ids:
            rec = records.get(self.svc.services.redis, self.svc.services.keys, job_id)
            assert rec is not None and rec["state"] == records.SUCCEEDED, rec
        self.svc.wait_searchable(timeout=timeout)

    def close(self) -> None:
        self.api.close()


def wait_idle(svc: Service, timeout: float = 60.0) -> dict[str, Any]:
    """Every queued event applied (nothing pending, twice in a row), whatever still waits outside
    the stream. Unlike `wait_searchable`, this does not wait for bookings that wait for their
    transaction, nor for `lastSequenceId` to reach the newest accepted one (a waiting booking's
    event is accepted and not applied yet)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while True:
        status = svc.status(engine_patience=0)
        quiet = quiet + 1 if status["pending"] == 0 else 0
        if quiet >= 2:
            return status
        assert time.monotonic() < deadline, f"not idle after {timeout}s: {status}"
        time.sleep(0.1)


def expected_checkpoint(stand: StandIn) -> int:
    """The sequenceId the sync's checkpoint must reach: the newest event its own `events/query`
    filters (as logged) let through."""
    asked = stand.requests_to("events/query")
    assert asked, "events/query was never asked"
    matching = stand.matching_events(asked[-1])
    return max(int(e["attributes"]["sequenceId"]) for e in matching)


# ---- the index through the public search API ----------------------------------------------------


def _all_resources(svc: Service, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        body = svc.query(perPage=100, page=page, **params)
        out += body["data"]
        if page >= body["meta"]["totalPages"]:
            return out
        page += 1


def _normalise(value: Any) -> Any:
    """Equal as Flex data: maps without null-valued keys (a plan's absent `timezone`), floats as floats."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def visibility_differences(svc: Service, market: Marketplace) -> list[str]:
    """How public search differs from Flex's published listings: the set, each one's attributes
    and author, and `privateData` (never shown)."""
    want = flex_oracle.public_attributes(market)
    got = {r["id"]: r for r in _all_resources(svc)}
    problems = [f"{lid}: published at Flex, not visible" for lid in sorted(set(want) - set(got))]
    problems += [f"{lid}: visible, but not published at Flex" for lid in sorted(set(got) - set(want))]
    for lid in sorted(set(want) & set(got)):
        attrs = got[lid]["attributes"]
        if "privateData" in attrs:
            problems.append(f"{lid}: privateData shown")
        for name, value in want[lid]["attributes"].items():
            have = attrs.get(name)
            same = (
                have is not None and parse_ts(have) == parse_ts(value)
                if name == "createdAt"
                else _normalise(have) == _normalise(value)
            )
            if not same:
                problems.append(f"{lid}: {name} is {have!r}, Flex has {value!r}")
        author = ((got[lid].get("relationships") or {}).get("author") or {}).get("data") or {}
        if author.get("id") != want[lid]["author"]:
            problems.append(f"{lid}: author is {author.get('id')!r}, Flex has {want[lid]['author']!r}")
    return problems


def stock_differences(svc: Service, market: Marketplace) -> list[str]:
    """How `minStock` and `stockMode` answer differently from Flex's stock (reservations counted
    once, through their adjustments; deleted adjustments not at all)."""
    visible = flex_oracle.published(market)
    totals = {lid: q for lid, q in flex_oracle.stock(market).items() if lid in visible}
    thresholds = sorted({0} | {t for q in totals.values() if q is not None and q >= 0 for t in (q, q + 1)})
    problems = []
    for t in thresholds:
        want = {lid for lid, q in totals.items() if q is not None and q >= t}
        got = svc.id_set(minStock=t)
        for lid in sorted(want ^ got):
            problems.append(f"{lid}: Flex stock {totals.get(lid)}, but found with minStock={t}: {lid in got}")
    undefined = svc.id_set(minStock=NO_STOCK_REACHES, stockMode="match-undefined")
    for lid in sorted({lid for lid, q in totals.items() if q is None} ^ undefined):
        problems.append(f"{lid}: Flex stock {totals.get(lid)}, but found as having no stock: {lid in undefined}")
    return problems


def availability_differences(
    svc: Service, market: Marketplace, *, days: int = AVAILABILITY_DAYS, seat_levels: tuple[int, ...] = SEAT_LEVELS
) -> list[str]:
    """Day by day, where `start`/`end`/`seats` (day-full) find other listings than the published
    day-plan listings Flex has that many free seats for."""
    today = datetime.now(UTC).date()
    visible = flex_oracle.published(market)
    free = {lid: row for lid, row in flex_oracle.free_seats(market, today, days).items() if lid in visible}
    problems = []
    for i in range(days):
        day = today + timedelta(days=i)
        for seats in seat_levels:
            want = {lid for lid, row in free.items() if row[i] >= seats}
            got = svc.id_set(start=_day(day), end=_day(day + timedelta(days=1)), seats=seats)
            for lid in sorted(want ^ got):
                flex = free[lid][i] if lid in free else "no day plan"
                problems.append(f"{day} {lid}: Flex has {flex} free, found for seats={seats}: {lid in got}")
    return problems


def _day(day: date) -> str:
    return day.isoformat()


def _report(kind: str, problems: list[str]) -> str:
    return f"{kind}: {len(problems)} differences\n  " + "\n  ".join(problems[:12]) if problems else ""


def assert_visible_as_flex(svc: Service, market: Marketplace) -> None:
    with market.lock:
        problems = visibility_differences(svc, market)
    assert not problems, _report("visibility", problems)


def assert_stock_as_flex(svc: Service, market: Marketplace) -> None:
    with market.lock:
        problems = stock_differences(svc, market)
    assert not problems, _report("stock", problems)


def assert_availability_as_flex(svc: Service, market: Marketplace) -> None:
    with market.lock:
        problems = availability_differences(svc, market)
    assert not problems, _report("availability", problems)


def assert_index_matches(svc: Service, market: Marketplace) -> None:
    """The index answers searches as Flex's own data would: visibility, attributes, stock and
    availability (tests/flex_oracle.py has the rules and their references). Every kind of
    difference is reported, not only the first."""
    with market.lock:
        reports = [
            _report("visibility", visibility_differences(svc, market)),
            _report("stock", stock_differences(svc, market)),
            _report("availability", availability_differences(svc, market)),
        ]
    assert not any(reports), "the index differs from Flex:\n" + "\n".join(r for r in reports if r)
