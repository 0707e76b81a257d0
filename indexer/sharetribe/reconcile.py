"""Reconciliation: compare the index with the marketplace (a full scan of the Integration API)
and repair what drifted.

For every listing the marketplace has, the document it should have is the stamped snapshot laid
under the current document (`overlay`): anything the index learnt after the read is kept. When
its indexed fields differ from the current document's, the job queues a repair entry in the
event stream, so the fix is applied by the workers, under their per-listing locks and versioned
writes, in order with the events. An indexed listing the scan did not return is asked about with
`listings/show`: one the API shows is compared like a scanned one, and only one the API confirms
gone (404, or `deleted: true`) is repaired into a deleted listing; absence from a scan alone
never is. The job's record reports what it found and queued; `pending` in status shows the
repairs being applied.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

import orjson
from opensearchpy import OpenSearch

from indexer.index.lifecycle import ensure_index
from indexer.index.live import live_index
from indexer.index.scan import pages_by_id
from indexer.jobs import records
from indexer.pipeline.stream_entry import overlay_entry
from indexer.services import Services
from indexer.sharetribe.api import IntegrationApi
from indexer.sharetribe.snapshot import ListingSnapshot, SourceScan, scan_from_checkpoint
from schemas.availability import utc_today
from schemas.index_layout import F
from schemas.listing_doc import LISTING, build_document, overlay
from schemas.search_schema import SchemaSet

log = logging.getLogger(__name__)

MAX_EXAMPLES = 50
PAGE = 1000


def indexed_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """What searches see of a document: everything but its version and stored source."""
    return {k: v for k, v in doc.items() if k not in (F.SEQ, F.SOURCE)}


def _differing(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    return sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))


def _as_indexed(listing_id: str, stored: dict[str, Any], schemas: SchemaSet, today: date) -> dict[str, Any]:
    """The fields as stored, which is what searches see. A document whose availability was
    computed on an earlier day waits for the daily roll: that is not drift, so it is compared as
    the roll will leave it."""
    if stored.get(F.HORIZON_FROM) not in (None, today.isoformat()):
        return indexed_fields(build_document(listing_id, stored.get(F.SOURCE) or {}, schemas, today))
    return indexed_fields(stored)


def _stored_documents(engine: OpenSearch, index: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    found = engine.mget(index=index, body={"ids": ids})
    return {d["_id"]: d["_source"] for d in found["docs"] if d.get("found")}


class Reconciler:
    def __init__(self, services: Services, job_id: str, *, repair: bool = True) -> None:
        self.services = services
        self.job_id = job_id
        self.repair = repair
        self.counts = {
            "checked": 0,
            "inSync": 0,
            "drifted": 0,
            "missing": 0,
            "gone": 0,
            "rechecked": 0,
            "repairsQueued": 0,
        }
        self.examples: list[dict[str, Any]] = []

    def run(self) -> dict[str, Any]:
        services = self.services
        r, keys = services.redis, services.keys
        live = live_index(services.engine, services.names) or ensure_index(
            services.engine, services.settings, services.names
        )
        api = IntegrationApi.from_settings(services.settings)
        try:
            scan = scan_from_checkpoint(services, api)
            records.update(r, keys, self.job_id, state=records.RUNNING, phase="read transactions", startedAt=_now())
            scan.read_transactions()
            records.update(r, keys, self.job_id, phase="compare listings")
            seen: set[str] = set()
            for page in scan.listings():
                self._compare_page(live.name, live.schemas, page)
                seen.update(s.listing_id for s in page)
                records.update(r, keys, self.job_id, done=len(seen), total=len(seen), **self.counts)
            records.update(r, keys, self.job_id, phase="confirm listings the scan did not return")
            self._compare_unseen(live.name, live.schemas, seen, scan)
            result = {
                **self.counts,
                "apiRequests": api.stats.requests,
                "apiUnreachable": api.stats.unreachable,
                "sourceSkipped": len(scan.stats.skipped),
                "bookingsReleased": scan.stats.bookings_released,
            }
            records.update(
                r,
                keys,
                self.job_id,
                state=records.SUCCEEDED,
                phase="done",
                finishedAt=_now(),
                examples=orjson.dumps(self.examples).decode(),
                **result,
            )
            log.info("reconciliation %s: %s", self.job_id, result)
            return result
        finally:
            api.close()

    def _compare_page(self, index: str, schemas: SchemaSet, page: list[ListingSnapshot]) -> None:
        if not page:
            return
        found = _stored_documents(self.services.engine, index, [s.listing_id for s in page])
        today = utc_today()
        for snap in page:
            self.counts["checked"] += 1
            stored = found.get(snap.listing_id)
            current = stored.get(F.SOURCE) or {} if stored is not None else None
            expected = overlay(snap.src, snap.absent, current)
            want = indexed_fields(build_document(snap.listing_id, expected, schemas, today))
            if stored is None:
                self._drift("missing", snap.listing_id, sorted(want), snap.as_json())
                continue
            have = _as_indexed(snap.listing_id, stored, schemas, today)
            if want == have:
                self.counts["inSync"] += 1
                continue
            self._drift("drifted", snap.listing_id, _differing(want, have), snap.as_json())

    def _compare_unseen(self, index: str, schemas: SchemaSet, seen: set[str], scan: SourceScan) -> None:
        """Indexed, visible-looking listings the scan did not return, confirmed one by one."""
        today = utc_today()
        not_deleted = {"bool": {"must_not": [{"term": {F.DELETED: True}}]}}
        for hits in pages_by_id(self.services.engine, index, size=PAGE, query=not_deleted):
            unseen = {hit["_id"]: hit["_source"] for hit in hits if hit["_id"] not in seen}
            if not unseen:
                continue
            self.counts["rechecked"] += len(unseen)
            snapshots, gone = scan.confirm(list(unseen))
            self._compare_page(index, schemas, snapshots)
            for lid, absent in gone.items():
                stored = unseen[lid]
                expected = overlay({LISTING: None}, absent, stored.get(F.SOURCE) or {})
                want = indexed_fields(build_document(lid, expected, schemas, today))
                have = _as_indexed(lid, stored, schemas, today)
                if want != have:
                    self._drift(
                        "gone", lid, _differing(want, have), {"lid": lid, "src": {LISTING: None}, "absent": absent}
                    )

    def _drift(self, kind: str, listing_id: str, fields: list[str], snapshot: dict[str, Any]) -> None:
        self.counts[kind] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"id": listing_id, "kind": kind, "fields": fields})
        if self.repair:
            entry = overlay_entry(listing_id, orjson.dumps(snapshot))
            self.services.redis.xadd(self.services.keys.events, entry)  # type: ignore[arg-type]
            self.counts["repairsQueued"] += 1


def start_reconcile(services: Services, *, reason: str, repair: bool) -> str:
    return records.create(services.redis, services.keys, "reconcile", reason + ("" if repair else " (report only)"))


def run_reconcile(services: Services, job_id: str, *, repair: bool = True) -> None:
    try:
        Reconciler(services, job_id, repair=repair).run()
    except Exception as exc:
        log.exception("reconciliation %s failed", job_id)
        records.update(
            services.redis,
            services.keys,
            job_id,
            state=records.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finishedAt=_now(),
        )
        raise


def _now() -> int:
    return int(time.time() * 1000)
