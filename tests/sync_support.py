"""Helpers for the Sharetribe sync tests: a stand-in server per test, a driver that plays the
job worker's part in-process, and the oracle (the whole event log applied in order)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opensearchpy import helpers

from indexer import jobs
from indexer.index_admin import index_view, live_index_name
from indexer.rebuild import run_rebuild
from indexer.sharetribe.api import IntegrationApi
from indexer.sharetribe.poller import PollReport, poll
from indexer.sharetribe.reconcile import indexed_fields
from listing_search.runner import serve_in_thread
from schemas.availability import utc_today
from schemas.events import ChangeEvent, classify
from schemas.index_layout import F
from schemas.listing_doc import build_document, merge
from tests.sharetribe_standin import CLIENT_ID, CLIENT_SECRET, Marketplace, StandIn
from tests.support import Service, running_service


@contextmanager
def standin(**options: Any) -> Iterator[tuple[StandIn, str]]:
    stand = StandIn(Marketplace(), **options)
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
                run_rebuild(self.svc.services, job_id)
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
            rec = jobs.get(self.svc.services.redis, self.svc.services.keys, job_id)
            assert rec is not None and rec["state"] == jobs.SUCCEEDED, rec
        self.svc.wait_searchable(timeout=timeout)

    def close(self) -> None:
        self.api.close()


def expected_documents(svc: Service, market: Marketplace) -> dict[str, dict[str, Any]]:
    """The oracle: every event the marketplace ever emitted (retention or not), in order."""
    services = svc.services
    schemas = index_view(
        services.engine, services.names, live_index_name(services.engine, services.names) or ""
    ).schemas
    by_listing: dict[str, list[ChangeEvent]] = defaultdict(list)
    for raw in market.events:
        ev = classify(raw)
        assert isinstance(ev, ChangeEvent), ev
        by_listing[ev.listing_id].append(ev)
    today = utc_today()
    out = {}
    for lid, evs in by_listing.items():
        src, _ = merge(None, sorted(evs, key=lambda e: e.seq))
        out[lid] = indexed_fields(build_document(lid, src, schemas, today))
    return out


def indexed_documents(svc: Service) -> dict[str, dict[str, Any]]:
    engine, alias = svc.services.engine, svc.services.names.alias
    return {
        h["_id"]: indexed_fields(h["_source"])
        for h in helpers.scan(engine, index=alias, query={"query": {"match_all": {}}})
    }


def assert_index_matches(svc: Service, market: Marketplace) -> None:
    """Every listing the marketplace has is indexed exactly as in-order replay gives; every
    listing it deleted is absent, deleted or stateless; public search shows exactly the published ones."""
    with market.lock:
        expected = expected_documents(svc, market)
        existing = set(market.listings)
        published = {lid for lid, r in market.listings.items() if r["attributes"]["state"] == "published"}
    got = indexed_documents(svc)
    for lid in existing:
        assert got.get(lid) == expected[lid], f"listing {lid} differs"
    for lid in expected.keys() - existing:
        # Deleted, or known only through later events of its bookings (never visible either way).
        gone = lid not in got or got[lid][F.DELETED] is True or got[lid][F.STATE] is None
        assert gone, f"deleted listing {lid} is not deleted: {got[lid]}"
    assert svc.id_set() == published
