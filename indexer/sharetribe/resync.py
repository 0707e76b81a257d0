"""A rebuild round whose source is the Integration API rather than the live index.

It fills the new index version with the marketplace's listings as they are now (stamped
snapshots laid under what the live index knows, see `schemas.listing_doc.overlay`), marks the
listings the marketplace no longer has as deleted, and catches up the listings workers wrote
meanwhile the same way. The rebuild then swaps aliases as usual: searches never stop, and the
events the sync polls from just before the re-sync began merge on top.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from indexer import jobs
from indexer.context import Services
from indexer.engine_retry import retry_transient
from indexer.index_scan import pages_by_id
from indexer.sharetribe.api import IntegrationApi
from indexer.sharetribe.snapshot import scan_from_checkpoint
from indexer.worker import fetch_sources
from schemas.index_layout import F
from schemas.listing_doc import LISTING, overlay, source_seq

log = logging.getLogger(__name__)

Write = Callable[[list[tuple[str, dict[str, Any], int]]], None]


class ResyncRound:
    def __init__(self, services: Services, job_id: str) -> None:
        self.services = services
        self.job_id = job_id
        self.absent: dict[str, dict[str, int]] = {}
        self.gone: dict[str, int] = {}
        self.report: dict[str, int] = {}

    def fill(self, live_name: str, write: Write) -> int:
        """The gate, lock and job record are kept alive by the rebuild's heartbeat thread."""
        services = self.services
        r, keys = services.redis, services.keys
        api = IntegrationApi.from_settings(services.settings)
        try:
            scan = scan_from_checkpoint(services, api)
            jobs.update(r, keys, self.job_id, phase="read transactions")
            scan.read_transactions()
            jobs.update(r, keys, self.job_id, phase="copy from source")
            seen: set[str] = set()
            for page in scan.listings():
                ids = [s.listing_id for s in page]
                found = retry_transient(partial(fetch_sources, services.engine, live_name, ids), "re-sync read")
                docs = []
                for snap in page:
                    current = found.get(snap.listing_id, (None, 0))[0]
                    src = overlay(snap.src, snap.absent, current)
                    self.absent[snap.listing_id] = snap.absent
                    docs.append((snap.listing_id, src, source_seq(src)))
                    seen.add(snap.listing_id)
                write(docs)
                jobs.update(r, keys, self.job_id, done=len(seen), total=len(seen))
            self.gone = scan.absent_everywhere()
            removed = self._mark_gone(live_name, seen, write)
            self.report = {
                "sourceListings": scan.stats.listings,
                "sourceExceptions": scan.stats.exceptions,
                "sourceBookings": scan.stats.bookings,
                "sourceReservations": scan.stats.reservations,
                "sourceSkipped": len(scan.stats.skipped),
                "stockRereads": scan.stats.stock_rereads,
                "goneFromSource": removed,
                "apiRequests": api.stats.requests,
                "apiRetries": api.stats.retries,
            }
            jobs.update(r, keys, self.job_id, **self.report)
            for reason in scan.stats.skipped[:20]:
                log.warning("re-sync skipped %s", reason)
            return len(seen)
        finally:
            api.close()

    def _mark_gone(self, live_name: str, seen: set[str], write: Write) -> int:
        """Indexed listings the source no longer has: their deletion happened in the gap."""
        engine, size = self.services.engine, self.services.settings.rebuild_page_size
        removed = 0
        for hits in pages_by_id(engine, live_name, size=size, source=[F.SOURCE], retry="re-sync scan"):
            docs = []
            for hit in hits:
                if hit["_id"] in seen:
                    continue
                src = overlay({LISTING: None}, self.gone, hit["_source"].get(F.SOURCE) or {})
                docs.append((hit["_id"], src, source_seq(src)))
            removed += len(docs)
            write(docs)
        return removed

    def catch_up(self, ids: list[str], live_name: str, target: str) -> list[tuple[str, dict[str, Any], int]]:
        """The documents to write for listings workers changed in the live index meanwhile."""
        engine = self.services.engine
        live = retry_transient(lambda: fetch_sources(engine, live_name, ids), "catch-up read")
        built = retry_transient(lambda: fetch_sources(engine, target, ids), "catch-up read")
        out = []
        for lid in ids:
            if lid not in live:
                continue
            base = built.get(lid, ({LISTING: None}, 0))[0]
            src = overlay(base, self.absent.get(lid, self.gone), live[lid][0])
            out.append((lid, src, source_seq(src)))
        return out
