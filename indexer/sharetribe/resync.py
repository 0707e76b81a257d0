"""A rebuild round whose source is the Integration API rather than the live index.

It fills the new index version with the marketplace's listings as they are now (stamped
snapshots laid under what the live index knows, see `schemas.listing_doc.overlay`), marks the
listings the marketplace confirms it no longer has as deleted, and catches up the listings
workers wrote meanwhile the same way. The rebuild then swaps aliases as usual: searches never
stop, and the events the sync polls from just before the re-sync began merge on top.

A listing is never tombstoned because the scan did not return it: each indexed listing the scan
missed is asked about with `listings/show`, and only a 404 or `deleted: true` makes it gone
(`SourceScan.confirm`). One the API still shows is written from that answer, like a scanned one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from indexer.index.documents import fetch_sources
from indexer.index.scan import pages_by_id
from indexer.jobs import records
from indexer.rebuild.job import start_rebuild
from indexer.rebuild.source import Docs, Write
from indexer.services import Services
from indexer.sharetribe.api import IntegrationApi
from indexer.sharetribe.checkpoint import CREATED_AT_START, POLLED_AT, RESYNC_JOB, RESYNC_REASON, SEQ, replay_start
from indexer.sharetribe.snapshot import ListingSnapshot, SourceScan, scan_from_checkpoint
from infra.failures import retry_transient
from schemas.index_layout import F
from schemas.listing_doc import LISTING, overlay, source_seq

log = logging.getLogger(__name__)


def listing_gone(src: dict[str, Any]) -> bool:
    """Whether a stored source already says the listing is gone (or never had its data)."""
    component = src.get(LISTING)
    return component is None or component.get("data") is None or component["data"].get("deleted") is True


class ResyncRound:
    def __init__(self, services: Services, job_id: str) -> None:
        self.services = services
        self.job_id = job_id
        # Listing id -> the `absent` stamps its snapshot (or its confirmed deletion) was written
        # with. A listing not here was neither read nor confirmed gone: it is copied as it is.
        self.absent: dict[str, dict[str, int]] = {}
        self.report: dict[str, int] = {}

    def fill(self, live_name: str, write: Write) -> int:
        """The gate, lock and job record are kept alive by the rebuild's heartbeat thread."""
        services = self.services
        r, keys = services.redis, services.keys
        api = IntegrationApi.from_settings(services.settings)
        try:
            scan = scan_from_checkpoint(services, api)
            records.update(r, keys, self.job_id, phase="read transactions")
            scan.read_transactions()
            records.update(r, keys, self.job_id, phase="copy from source")
            seen: set[str] = set()
            for page in scan.listings():
                self._write_snapshots(live_name, page, write)
                seen.update(s.listing_id for s in page)
                records.update(r, keys, self.job_id, done=len(seen), total=len(seen))
            records.update(r, keys, self.job_id, phase="confirm listings the scan did not return")
            removed = self._confirm_unseen(live_name, scan, seen, write)
            self.report = {
                "sourceListings": scan.stats.listings,
                "sourceExceptions": scan.stats.exceptions,
                "sourceBookings": scan.stats.bookings,
                "sourceLinks": scan.stats.links,
                "bookingsReleased": scan.stats.bookings_released,
                "sourceSkipped": len(scan.stats.skipped),
                "stockRereads": scan.stats.stock_rereads,
                "rechecked": scan.stats.rechecked,
                "recheckedFound": scan.stats.rechecked_found,
                "goneFromSource": removed,
                "apiRequests": api.stats.requests,
                "apiRetries": api.stats.retries,
                "apiUnreachable": api.stats.unreachable,
            }
            records.update(r, keys, self.job_id, **self.report)
            for reason in scan.stats.skipped[:20]:
                log.warning("re-sync skipped %s", reason)
            return len(seen) + scan.stats.rechecked_found
        finally:
            api.close()

    def _write_snapshots(self, live_name: str, page: list[ListingSnapshot], write: Write) -> None:
        if not page:
            return
        ids = [s.listing_id for s in page]
        found = retry_transient(partial(fetch_sources, self.services.engine, live_name, ids), "re-sync read")
        docs = []
        for snap in page:
            current = found.get(snap.listing_id, (None, 0))[0]
            src = overlay(snap.src, snap.absent, current)
            self.absent[snap.listing_id] = snap.absent
            docs.append((snap.listing_id, src, source_seq(src)))
        write(docs)

    def _confirm_unseen(self, live_name: str, scan: SourceScan, seen: set[str], write: Write) -> int:
        """Indexed listings the scan did not return: asked about one by one. Those the API shows
        are written from its answer; those it confirms gone (deleted during the gap) become
        tombstones; one already deleted in the index is copied as it is. Returns how many were
        confirmed gone."""
        engine, size = self.services.engine, self.services.settings.rebuild_page_size
        removed = 0
        for hits in pages_by_id(engine, live_name, size=size, source=[F.SOURCE], retry="re-sync scan"):
            docs = []
            unseen: dict[str, dict[str, Any]] = {}
            for hit in hits:
                if hit["_id"] in seen:
                    continue
                current = hit["_source"].get(F.SOURCE) or {}
                if listing_gone(current):
                    docs.append((hit["_id"], current, source_seq(current)))
                else:
                    unseen[hit["_id"]] = current
            if unseen:
                snapshots, gone = scan.confirm(list(unseen))
                self._write_snapshots(live_name, snapshots, write)
                seen.update(s.listing_id for s in snapshots)
                for lid, absent in gone.items():
                    src = overlay({LISTING: None}, absent, unseen[lid])
                    self.absent[lid] = absent
                    docs.append((lid, src, source_seq(src)))
                    seen.add(lid)
                removed += len(gone)
                # Neither shown nor gone (the API's answer was not a valid listing): as it is.
                docs += [(lid, src, source_seq(src)) for lid, src in unseen.items() if lid not in seen]
            write(docs)
        return removed

    def catch_up(self, ids: list[str], live_name: str, target: str) -> Docs:
        """The documents to write for listings workers changed in the live index meanwhile.

        A listing this round read (or confirmed gone) is laid under the live document again with
        the same stamps. Any other one (it reached the index after the round looked) is copied
        as the live index has it: no stamps, so nothing is tombstoned for not having been read."""
        engine = self.services.engine
        live = retry_transient(lambda: fetch_sources(engine, live_name, ids), "catch-up read")
        built = retry_transient(lambda: fetch_sources(engine, target, ids), "catch-up read")
        out = []
        for lid in ids:
            if lid not in live:
                continue
            base = built.get(lid, ({LISTING: None}, 0))[0]
            src = overlay(base, self.absent.get(lid, {}), live[lid][0])
            out.append((lid, src, source_seq(src)))
        return out


def start_resync(
    services: Services, *, enqueue: Callable[[str], None], reason: str, replay_from_now: bool = False
) -> str:
    """Start (or join) a full re-sync, and record it as the sync's current one (status shows it).

    `replay_from_now`: there is no usable checkpoint (none yet, or one older than Flex's event
    retention), so polling restarts from a clock margin before now, which is what the re-sync's
    snapshot reflects. Otherwise the checkpoint stays: events keep flowing from it meanwhile, and
    the re-sync's stamps make either order converge.
    """
    r, keys = services.redis, services.keys
    if replay_from_now:
        pipe = r.pipeline(transaction=True)
        pipe.hdel(keys.sync, SEQ)
        pipe.hset(keys.sync, mapping={CREATED_AT_START: replay_start(services), POLLED_AT: int(time.time() * 1000)})
        pipe.execute()
    job_id = start_rebuild(services, reason=f"full re-sync: {reason}", enqueue=enqueue, resync=True)
    r.hset(keys.sync, mapping={RESYNC_JOB: job_id, RESYNC_REASON: reason})
    log.info("full re-sync %s started: %s", job_id, reason)
    return job_id
