"""The stream consumer: events from Redis, merged into listing documents, written with `_bulk`.

Correctness rests on three rules:
- an entry is acknowledged only after the bulk request that reflects it has settled and is
  searchable (`refresh=wait_for`); a crash before that leaves it pending for a retry or a sibling;
- documents merge events per component by sequenceId (schemas.listing_doc), so duplicates and
  any delivery order converge on the in-order result;
- every write carries `version_type=external` with the newest sequenceId the document reflects,
  so the engine itself refuses a stale overwrite (a 409 is re-read and merged again).

Batches are pipelined: while up to `bulk_in_flight` bulk requests are in flight, the worker reads,
merges and builds the next batch. A listing that a batch in flight still writes is never read
before that write settles: its new entries wait (unacknowledged) for a later batch.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import redis
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from indexer.index.documents import MAX_BULK_BYTES, bulk_chunks, engine_reason, fetch_documents, index_op
from indexer.index.live import index_view, live_index_name
from indexer.pipeline import dead_letters, event_rates, stream_entry, worker_scripts
from indexer.rebuild.gate import WorkerGate
from indexer.redis_keys import RedisKeys
from infra import histogram
from infra.engine_connection import connection_of
from infra.failures import (
    Backoff,
    TransientEngineError,
    configuration_failure,
    engine_failure_reason,
    transient,
    transient_status,
)
from infra.settings import Settings
from schemas.availability import utc_today
from schemas.events import ChangeEvent
from schemas.index_layout import F, IndexNames
from schemas.listing_doc import AVAILABILITY_FIELDS, build_document, merge, overlay
from schemas.search_schema import SchemaSet

log = logging.getLogger(__name__)

MAX_CONFLICT_ROUNDS = 5
ACK_CHUNK = 1000
RUN_TOKEN_CHARS = 16
# A batch reads on while its events touch fewer listings than batch_size, up to this many reads.
GROW_FACTOR = 8
# How often, at most, a worker looks for entries that a dead sibling left pending (XAUTOCLAIM).
# Entries become claimable once idle claim_idle_ms; checking every second keeps the delay after
# that small, and a check on a short pending list costs Redis microseconds.
CLAIM_CHECK_MAX_SECONDS = 1.0
# A batch whose every entry was handed back (their listings are locked by another worker, or by a
# dead one until its locks expire) would otherwise be read again from the stream's tail at once,
# thousands of times a second: pause this long before reading on.
HANDED_BACK_PAUSE_SECONDS = 0.05
START = "0-0"


Entry = tuple[bytes, dict[bytes, bytes]]


@dataclass
class BatchReport:
    entries: int = 0
    documents_written: int = 0
    dead_lettered: int = 0
    max_seq: int | None = None
    dead: list[tuple[object, str]] = field(default_factory=list)
    handed_back: list[dict[bytes, bytes]] = field(default_factory=list)
    bulk_seconds: list[float] = field(default_factory=list)


@dataclass(eq=False)
class _Batch:
    """A batch between reading and acknowledgement."""

    entries: list[Entry]
    report: BatchReport
    held: set[str]  # listings whose locks this batch owns
    groups: dict[str, list[ChangeEvent]]  # per held listing, events in sequenceId order
    refresh: set[str]
    overlays: dict[str, list[dict[str, Any]]]
    index: str = ""
    schemas: SchemaSet | None = None
    ops: list[tuple[str, bytes]] = field(default_factory=list)
    chunks: list[list[tuple[str, bytes]]] = field(default_factory=list)
    dead: dict[str, list[tuple[ChangeEvent, str]]] = field(default_factory=dict)
    sent: Future[list[dict[str, Any]]] | None = None
    state: Literal["prepared", "sent", "done", "failed"] = "prepared"


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Worker:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: OpenSearch,
        redis_client: redis.Redis,
        names: IndexNames,
        keys: RedisKeys,
        consumer: str | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.redis = redis_client
        self.names = names
        self.keys = keys
        self.consumer = consumer or default_consumer_name()
        self._ack = self.redis.register_script(worker_scripts.ACK_LUA)
        self._lock = self.redis.register_script(worker_scripts.LOCK_LUA)
        self._unlock = self.redis.register_script(worker_scripts.UNLOCK_LUA)
        # Where the next XAUTOCLAIM scan starts; not START while a sweep of the pending list goes on.
        self._claim_cursor = START
        self._last_claim = -float("inf")
        self._claim_every = min(CLAIM_CHECK_MAX_SECONDS, self.settings.claim_idle_ms / 4000)
        # Where the next read of this consumer's own history (entries delivered to this name and
        # never acknowledged) starts; None once it is drained and new entries are read instead.
        self._own_cursor: str | None = START
        self._lock_value = f"{os.urandom(RUN_TOKEN_CHARS // 2).hex()}@{self.consumer}"
        self.gate = WorkerGate(self.redis, self.keys, self.consumer)
        # An index's field types never change after creation (only docs/defaults in `_meta`,
        # which writing ignores), so its schemas are fetched once.
        self._schemas: dict[str, SchemaSet] = {}
        self._pool: ThreadPoolExecutor | None = None

    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.keys.events, self.keys.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # ---- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set. Never raises for bad events or a flaky engine/Redis."""
        log.info("worker %s consuming %s", self.consumer, self.keys.events)
        backoff = Backoff(self.settings.retry_max_seconds)
        while not stop.is_set():
            try:
                self.ensure_group()
                if not self.gate.enter():
                    stop.wait(0.02)  # a rebuild is swapping aliases: a moment's pause
                    continue
                try:
                    if self._own_cursor is not None:
                        # A restarted worker with the same name first finishes *all* it had taken
                        # (and so does this one after a failed batch), before reading new entries.
                        entries = self._read_own()
                        if entries:
                            self._pump(entries, stop, more=self._read_own)
                    else:
                        entries = self._claim_stale() or self._read(block_ms=self.settings.block_ms)
                        if entries:
                            self._pump(entries, stop)
                finally:
                    self.gate.leave()
                backoff.reset()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                # What was read and not acknowledged is settled first when Redis is back.
                self._own_cursor = START
                delay = backoff.next()
                log.warning("redis unavailable (%s); retrying in %.1fs", exc, delay)
                stop.wait(delay)
            except Exception as exc:
                # Unacknowledged entries stay pending and any worker (this one included) claims
                # them again once idle claim_idle_ms: an unexpected failure delays them (status
                # shows the lag) but loses nothing, and a batch that fails every time cannot hold
                # up the entries behind it.
                delay = backoff.next()
                if configuration_failure(exc):  # credentials or TLS: one line that says what to fix
                    log.warning("engine refused this worker: %s; retrying in %.1fs", self._reason(exc), delay)
                else:
                    log.exception("worker batch failed; retrying in %.1fs", delay)
                stop.wait(delay)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def run_once(self, *, block_ms: int | None = None) -> BatchReport:
        """Process at most one batch (tests and tools); transient engine errors propagate."""
        self.ensure_group()
        if not self.gate.enter():
            return BatchReport()
        try:
            entries = self._read(block_ms=block_ms)
            return self.process(entries) if entries else BatchReport()
        finally:
            self.gate.leave()

    def _read(self, *, block_ms: int | None) -> list[Entry]:
        """New entries (never delivered to any consumer)."""
        entries = self._read_once(block_ms=block_ms)
        # A backlog whose events bunch on few listings (an import sends each listing with its
        # exceptions) would make many small bulk requests. Read on, without waiting, until the
        # batch touches about `batch_size` listings or holds GROW_FACTOR times the events.
        size = self.settings.batch_size
        listings = {stream_entry.listing_of(fields) for _, fields in entries}
        more = entries
        while len(more) == size and len(listings) < size and len(entries) < GROW_FACTOR * size:
            more = self._read_once(block_ms=None)
            entries += more
            listings.update(stream_entry.listing_of(fields) for _, fields in more)
        return entries

    def _read_once(self, *, block_ms: int | None) -> list[Entry]:
        found: Any = self.redis.xreadgroup(
            self.keys.group, self.consumer, {self.keys.events: ">"}, count=self.settings.batch_size, block=block_ms
        )
        entries: list[Entry] = found[0][1] if found else []
        return entries

    def _read_own(self) -> list[Entry]:
        """The next entries of this consumer's history: delivered to this name, never acknowledged
        (a run that died, or a batch that failed). Reads on like `_read` while they bunch on few
        listings; [] once the history is drained (then `_own_cursor` is None)."""
        size = self.settings.batch_size
        entries: list[Entry] = []
        listings: set[bytes | None] = set()
        while self._own_cursor is not None and len(entries) < GROW_FACTOR * size and len(listings) < size:
            found: Any = self.redis.xreadgroup(
                self.keys.group, self.consumer, {self.keys.events: self._own_cursor}, count=size
            )
            raw: list[Entry] = found[0][1] if found else []
            if not raw:
                self._own_cursor = None
                break
            self._own_cursor = raw[-1][0].decode()
            # An entry a sibling settled and deleted meanwhile comes back empty: only the pending
            # list still names it.
            gone = [entry_id for entry_id, fields in raw if not fields]
            if gone:
                self.redis.xack(self.keys.events, self.keys.group, *gone)
            live = [e for e in raw if e[1]]
            entries += live
            listings.update(stream_entry.listing_of(fields) for _, fields in live)
            if len(raw) < size:
                self._own_cursor = None
        if entries:
            log.info("settling %d entries this worker's name had taken and not acknowledged", len(entries))
        return entries

    def _claim_stale(self) -> list[Entry]:
        """Entries idle longer than claim_idle_ms in other consumers' pending lists (a worker
        that died), claimed for this one. A sweep of the pending list goes on call after call
        without waiting, so a large backlog is claimed as fast as it is processed."""
        now = time.monotonic()
        if self._claim_cursor == START:
            if now - self._last_claim < self._claim_every:
                return []
            self._last_claim = now
        result: Any = self.redis.xautoclaim(
            self.keys.events,
            self.keys.group,
            self.consumer,
            min_idle_time=self.settings.claim_idle_ms,
            start_id=self._claim_cursor,
            count=self.settings.batch_size,
        )
        cursor = result[0]
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        entries: list[Entry] = [e for e in result[1] if e[1]]
        if entries:
            log.warning("claimed %d entries left pending by another worker", len(entries))
        return entries

    def _settle(self, entries: list[Entry], stop: threading.Event) -> None:
        """Process a batch, retrying transient engine failures with capped backoff."""
        if not entries:
            return
        backoff = Backoff(self.settings.retry_max_seconds)
        while True:
            try:
                self.process(entries)
                return
            except Exception as exc:
                if not transient(exc):
                    raise
                delay = backoff.next()
                log.warning(
                    "engine unavailable (%s); %d entries wait, retry in %.1fs", self._reason(exc), len(entries), delay
                )
                self.gate.still_here()
                if stop.wait(delay):
                    return  # left pending: a restart or a sibling picks them up

    def _pump(self, entries: list[Entry], stop: threading.Event, more: Callable[[], list[Entry]] | None = None) -> None:
        """Process batches back to back while `more` has entries (by default: claims of stale
        entries, then new ones), preparing each batch while earlier bulk requests are in flight.
        Returns when `more` runs dry, `stop` is set or a rebuild closes the gate, with nothing left
        in flight."""
        read_more = more or self._next_entries
        window: deque[_Batch] = deque()
        unowned = entries  # read, but not part of a batch yet
        prepared: _Batch | None = None
        try:
            while unowned or window:
                # Entries of listings a batch in flight writes wait here for a later batch, so
                # their documents are read after that write has settled. (The listing locks would
                # refuse them anyway, handing them back to the stream's tail: slower.)
                busy = {lid for batch in window for lid in batch.held}
                ready, waiting = _split(unowned, busy) if busy else (unowned, [])
                if ready:
                    prepared = self._prepare(ready)
                    unowned = waiting
                    if len(window) >= self.settings.bulk_in_flight:
                        self._complete(window[0])
                        window.popleft()
                    self._submit(prepared, background=True)
                    window.append(prepared)
                    nothing_to_do = len(prepared.report.handed_back) == prepared.report.entries
                    prepared = None
                    if nothing_to_do:
                        stop.wait(HANDED_BACK_PAUSE_SECONDS)
                else:
                    self._complete(window[0])
                    window.popleft()
                    continue
                if not stop.is_set() and self.gate.enter():
                    unowned += read_more()
        except Exception as exc:
            # Whatever did not settle is retried as one plain batch (transient failures), or left
            # pending for a claim. In-flight writes settle before their locks are released.
            lost = list(unowned)
            for batch in window:
                if batch.state == "sent":
                    try:
                        self._complete(batch)
                    except Exception:
                        log.warning("batch in flight failed too; its %d entries wait", len(batch.entries))
                if batch.state != "done":
                    lost += batch.entries
            if prepared is not None:
                self._unlock_listings(prepared.held)
                lost += prepared.entries
            if not transient(exc):
                raise
            log.warning("engine unavailable (%s); %d entries wait", self._reason(exc), len(lost))
            self._settle(lost, stop)

    def _reason(self, exc: BaseException) -> str:
        return engine_failure_reason(exc, connection=connection_of(self.engine))

    def _next_entries(self) -> list[Entry]:
        return self._claim_stale() or self._read(block_ms=None)

    # ---- one batch ------------------------------------------------------------------------

    def process(self, entries: list[Entry]) -> BatchReport:
        """One batch, start to finish, with nothing else in flight."""
        batch = self._prepare(entries)
        self._submit(batch, background=False)
        return self._complete(batch)

    def _prepare(self, entries: list[Entry]) -> _Batch:
        """Parse, lock, read the stored documents and build the index operations."""
        report = BatchReport(entries=len(entries))
        owner: dict[bytes, str] = {}  # entry id -> listing id
        events: dict[bytes, ChangeEvent] = {}
        overlays: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry_id, fields in entries:
            if stream_entry.REFRESH_B in fields:
                # Recompute this listing's document (the daily horizon roll); no event behind it.
                owner[entry_id] = fields[stream_entry.REFRESH_B].decode()
                continue
            if stream_entry.OVERLAY_B in fields:
                try:
                    snapshot = orjson.loads(fields[stream_entry.OVERLAY_B])
                    owner[entry_id] = str(snapshot["lid"])
                    overlays[owner[entry_id]].append(snapshot)
                except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                    log.error("unreadable repair entry %r: %s", entry_id, exc)
                continue
            raw = fields.get(stream_entry.EVENT_B, b"")
            try:
                ev = ChangeEvent.from_json(raw)
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                report.dead.append((raw.decode(errors="replace"), f"unreadable stream entry {entry_id!r}: {exc}"))
                continue
            if not ev.listing_id:
                # A booking routed through its transaction: intake put the listing beside it.
                ev = dataclasses.replace(ev, listing_id=fields.get(stream_entry.LISTING_B, b"").decode())
                if not ev.listing_id:
                    report.dead.append((raw.decode(errors="replace"), f"stream entry {entry_id!r} names no listing"))
                    continue
            owner[entry_id] = ev.listing_id
            events[entry_id] = ev
        held = self._lock_listings(set(owner.values()))
        try:
            groups: dict[str, list[ChangeEvent]] = defaultdict(list)
            refresh: set[str] = set()
            for entry_id, fields in entries:
                lid = owner.get(entry_id)
                if lid is None:
                    continue
                if lid not in held:
                    report.handed_back.append(fields)  # another worker has this listing: later
                elif entry_id in events:
                    ev = events[entry_id]
                    groups[lid].append(ev)
                    report.max_seq = ev.seq if report.max_seq is None else max(report.max_seq, ev.seq)
                else:
                    refresh.add(lid)
                    groups.setdefault(lid, [])
            for evs in groups.values():
                evs.sort(key=lambda e: e.seq)
            batch = _Batch(entries, report, held, dict(groups), refresh, overlays)
            if groups:
                batch.index, batch.schemas = self._target()
                batch.ops = self._build_ops(batch.groups, batch.index, batch.schemas, refresh, overlays, batch.dead)
        except BaseException:
            self._unlock_listings(held)
            raise
        return batch

    def _submit(self, batch: _Batch, *, background: bool) -> None:
        batch.chunks = list(bulk_chunks(batch.ops, MAX_BULK_BYTES))
        if background:
            batch.sent = self._executor().submit(self._send, batch.index, batch.chunks, batch.report)
        else:
            batch.sent = Future()
            try:
                batch.sent.set_result(self._send(batch.index, batch.chunks, batch.report))
            except BaseException as exc:
                batch.sent.set_exception(exc)
        batch.state = "sent"

    def _complete(self, batch: _Batch) -> BatchReport:
        """Wait for the batch's bulk, retry its conflicts, dead-letter, acknowledge, unlock."""
        report = batch.report
        try:
            assert batch.sent is not None
            responses = batch.sent.result()
            if batch.groups:
                assert batch.schemas is not None
                conflicts = self._read_items(batch.chunks, responses, batch.groups, batch.dead, report)
                if conflicts:
                    retry = {lid: batch.groups[lid] for lid in conflicts}
                    batch.dead.update(
                        self._write(
                            retry,
                            report,
                            batch.index,
                            batch.schemas,
                            batch.refresh,
                            batch.overlays,
                            rounds=MAX_CONFLICT_ROUNDS - 1,
                        )
                    )
                for evs in batch.dead.values():
                    report.dead.extend((_event_for_dead_letter(ev), reason) for ev, reason in evs)
                self.gate.written(lid for lid in batch.groups if lid not in batch.dead)
            self._acknowledge(batch.entries, report)
            batch.state = "done"
        except BaseException:
            batch.state = "failed"
            raise
        finally:
            self._unlock_listings(batch.held)
        return report

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.settings.bulk_in_flight, thread_name_prefix="bulk")
        return self._pool

    def _lock_listings(self, listing_ids: set[str]) -> set[str]:
        ordered = sorted(listing_ids)
        taken: set[str] = set()
        for start in range(0, len(ordered), ACK_CHUNK):
            chunk = ordered[start : start + ACK_CHUNK]
            found = self._lock(
                keys=[self.keys.listing_lock(lid) for lid in chunk],
                args=[self._lock_value, self.settings.lock_ttl_ms, RUN_TOKEN_CHARS + 1, self.consumer],
            )
            taken.update(chunk[int(i) - 1] for i in found)
        return taken

    def _unlock_listings(self, listing_ids: set[str]) -> None:
        ordered = sorted(listing_ids)
        for start in range(0, len(ordered), ACK_CHUNK):
            chunk = ordered[start : start + ACK_CHUNK]
            self._unlock(keys=[self.keys.listing_lock(lid) for lid in chunk], args=[self._lock_value])

    def _target(self) -> tuple[str, SchemaSet]:
        """The index the alias points at now, with the schemas its mapping was built from."""
        try:
            index = live_index_name(self.engine, self.names)
            if index is None:
                raise TransientEngineError(f"alias {self.names.alias} does not exist")
            if index not in self._schemas:
                self._schemas[index] = index_view(self.engine, self.names, index).schemas
        except TransportError as exc:
            raise TransientEngineError(f"cannot resolve {self.names.alias}: {exc}") from exc
        return index, self._schemas[index]

    def _write(
        self,
        groups: dict[str, list[ChangeEvent]],
        report: BatchReport,
        index: str,
        schemas: SchemaSet,
        refresh: Collection[str] = (),
        overlays: dict[str, list[dict[str, Any]]] | None = None,
        *,
        rounds: int = MAX_CONFLICT_ROUNDS,
    ) -> dict[str, list[tuple[ChangeEvent, str]]]:
        """Read, merge and write until no version conflict is left (at most `rounds` times)."""
        dead: dict[str, list[tuple[ChangeEvent, str]]] = {}
        pending = groups
        for _ in range(rounds):
            if not pending:
                return dead
            ops = self._build_ops(pending, index, schemas, refresh, overlays or {}, dead)
            chunks = list(bulk_chunks(ops, MAX_BULK_BYTES))
            conflicts = self._read_items(chunks, self._send(index, chunks, report), pending, dead, report)
            pending = {lid: pending[lid] for lid in conflicts}
        for lid, evs in pending.items():
            # Only a pathological state gets here (the per-listing lock rules out a concurrent
            # writer), e.g. a document deleted by hand whose tombstone carries a higher version.
            # Retrying would block the stream forever: the events become dead letters, replayable.
            log.error("listing %s: version conflicts persist after %d rounds", lid, MAX_CONFLICT_ROUNDS)
            dead[lid] = [
                (ev, "version conflicts persist: the engine holds a newer version of the document") for ev in evs
            ]
        return dead

    def _build_ops(
        self,
        pending: dict[str, list[ChangeEvent]],
        index: str,
        schemas: SchemaSet,
        refresh: Collection[str],
        overlays: dict[str, list[dict[str, Any]]],
        dead: dict[str, list[tuple[ChangeEvent, str]]],
    ) -> list[tuple[str, bytes]]:
        """The index operations for these listings, merged onto their stored documents (events
        in sequenceId order)."""
        if not pending:
            return []
        current = fetch_documents(self.engine, index, pending, fields=(F.SOURCE, *AVAILABILITY_FIELDS))
        ops: list[tuple[str, bytes]] = []
        for lid, evs in pending.items():
            stored, version = current.get(lid, (None, None))
            src = None if stored is None else stored.get(F.SOURCE) or {}
            if src is None and not evs and lid not in overlays:
                continue  # a refresh for a listing that is gone
            try:
                base = src
                for snapshot in overlays.get(lid, ()):
                    base = overlay(snapshot["src"], snapshot["absent"], base)
                new_src, changed = merge(base, evs)
                changed = changed or base != src
                if not changed and lid not in refresh:
                    continue
                doc = build_document(lid, new_src, schemas, utc_today(), previous=stored)
                ops.append((lid, index_op(lid, doc, version)))
            except Exception as exc:  # a bug must cost one listing's events, not the stream
                log.exception("cannot build document for listing %s", lid)
                dead[lid] = [(ev, f"cannot build document: {exc!r}") for ev in evs]
        return ops

    def _send(self, index: str, chunks: list[list[tuple[str, bytes]]], report: BatchReport) -> list[dict[str, Any]]:
        """The bulk requests, one per chunk; runs on a pool thread when pipelined."""
        responses: list[dict[str, Any]] = []
        for chunk in chunks:
            body = b"".join(op for _, op in chunk)
            began = time.monotonic()
            try:
                responses.append(self.engine.bulk(body=body, index=index, params={"refresh": "wait_for"}))
                report.bulk_seconds.append(time.monotonic() - began)
            except TransportError as exc:
                if transient_status(exc.status_code):
                    raise TransientEngineError(f"bulk failed: {exc}") from exc
                raise
        return responses

    @staticmethod
    def _read_items(
        chunks: list[list[tuple[str, bytes]]],
        responses: list[dict[str, Any]],
        pending: dict[str, list[ChangeEvent]],
        dead: dict[str, list[tuple[ChangeEvent, str]]],
        report: BatchReport,
    ) -> list[str]:
        """Count what was written, dead-letter refusals; returns listings that hit a version conflict."""
        conflicts: list[str] = []
        for chunk, resp in zip(chunks, responses, strict=True):
            for (lid, _), item in zip(chunk, resp["items"], strict=True):
                result = item["index"]
                status = int(result["status"])
                if status < 300:
                    report.documents_written += 1
                elif status == 409:
                    conflicts.append(lid)
                elif transient_status(status):
                    raise TransientEngineError(f"bulk item {lid}: {status} {result.get('error')}")
                else:
                    reason = engine_reason(result.get("error"))
                    dead[lid] = [(ev, f"engine refused the document ({status}): {reason}") for ev in pending[lid]]
        return conflicts

    def _acknowledge(self, entries: list[Entry], report: BatchReport) -> None:
        ids = [entry_id for entry_id, _ in entries]
        pipe = self.redis.pipeline(transaction=True)
        for raw, reason in report.dead:
            dead_letters.add(pipe, self.keys, raw, reason, dead_letters.WORKER)
        # Entries of listings another worker holds go back to the tail of the stream, in the same
        # transaction as the acknowledgement: never lost, never twice. Order does not matter.
        for fields in report.handed_back:
            pipe.xadd(self.keys.events, fields)  # type: ignore[arg-type]
        histogram.record(pipe, self.keys.bulk_metrics, report.bulk_seconds)
        if report.documents_written:
            pipe.hincrby(self.keys.bulk_metrics, histogram.DOCUMENTS, report.documents_written)
        report.dead_lettered = len(report.dead)
        max_seq = "" if report.max_seq is None else str(report.max_seq)
        handed_back = {id(f) for f in report.handed_back}
        for start in range(0, len(ids), ACK_CHUNK):
            chunk = ids[start : start + ACK_CHUNK]
            markers = sum(
                1
                for _, fields in entries[start : start + ACK_CHUNK]
                if any(f in fields for f in stream_entry.MARKERS_B) or id(fields) in handed_back
            )
            self._ack(
                keys=[self.keys.events, self.keys.stats, event_rates.bucket_key(self.keys)],
                args=[self.keys.group, max_seq, markers, *chunk],
                client=pipe,
            )
        pipe.execute()


def _split(entries: list[Entry], busy: set[str]) -> tuple[list[Entry], list[Entry]]:
    """Entries whose listing no batch in flight holds, and the others."""
    ready: list[Entry] = []
    waiting: list[Entry] = []
    for entry in entries:
        lid = stream_entry.listing_of(entry[1])
        (waiting if lid is not None and lid.decode() in busy else ready).append(entry)
    return ready, waiting


def _event_for_dead_letter(ev: ChangeEvent) -> object:
    return orjson.loads(ev.to_json())


__all__ = ["BatchReport", "Worker", "default_consumer_name"]
