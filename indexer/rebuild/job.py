"""Zero-downtime rebuild: a new versioned index from the current one's stored sources.

1. Create `vN+1` from the template with the registry's schemas (mapping and `_meta`).
2. Open the gate (indexer.rebuild.gate): workers keep writing to `vN` and mark what they wrote.
3. Copy every document of `vN` (search_after on `id`), recomputing the indexed fields with the
   new schemas, each write carrying the source document's version.
4. Copy the listings marked dirty meanwhile, until few are left.
5. Close the gate (no batch in flight), copy the last dirty ones, refresh, swap every alias in
   one call, reopen. Readers see `vN` until that call and `vN+1` after it.
6. If the registry changed while we built, build again: the index always ends up reflecting
   every change, however quickly they came.

`vN` is kept for rollback; older versions are deleted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

import orjson
from opensearchpy.exceptions import NotFoundError, TransportError

from indexer.index import schema_registry
from indexer.index.documents import fetch_sources
from indexer.index.lifecycle import create_index, ensure_index, set_live_schemas, swap_aliases
from indexer.index.live import LiveIndex, live_index, live_index_name
from indexer.index.scan import pages_by_id
from indexer.jobs import records
from indexer.jobs.lease import Lease
from indexer.rebuild.gate import RebuildGate
from indexer.rebuild.source import Docs, RoundSource, SourceRound
from indexer.services import Services
from infra.failures import retry_transient
from schemas.availability import utc_today
from schemas.index_layout import F
from schemas.listing_doc import build_document
from schemas.search_schema import SchemaSet

log = logging.getLogger(__name__)

# A lease (renewed by its own thread while the rebuild runs): a jobs process killed mid-rebuild
# frees it within this, where a 10-minute lock refused every new rebuild for 10 minutes.
LOCK_TTL_MS = 30_000
KEEPALIVE_S = 10.0
SWAP_WAIT_S = 30.0
# Dirty listings left when we stop chasing and pause writers for the final copy; chasing a
# writer faster than us gives up after CATCH_UP_ROUNDS or CATCH_UP_SECONDS, whichever comes
# first, and pauses anyway. Rounds alone were no bound in time: with small pages on a slow
# engine (25 listings, half a second a round) 200 rounds took over 100 s while the writer kept
# the set above the threshold, and more chasing could not shrink it.
SWAP_WHEN_DIRTY_BELOW = 100
CATCH_UP_ROUNDS = 200
CATCH_UP_SECONDS = 20.0


class RebuildError(RuntimeError):
    pass


# A caller joins the current rebuild by raising the generation it must reflect; a rebuild
# finishes only if nobody raised it past what it built. Both run atomically in Redis, so a
# change either reaches the running job or starts a new one, never neither.
_JOIN = """
local current = redis.call('GET', KEYS[1])
if not current then return false end
local wanted = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) > wanted then redis.call('SET', KEYS[2], ARGV[1]) end
return current
"""
_FINISH = """
local wanted = tonumber(redis.call('GET', KEYS[2]) or '0')
if wanted > tonumber(ARGV[2]) then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) end
return 1
"""


def join_running(services: Services, generation: int) -> str | None:
    """The running (or queued) rebuild, now bound to reflect `generation`; None if there is none."""
    found = services.redis.eval(_JOIN, 2, services.keys.current_rebuild, services.keys.rebuild_wanted, generation)
    if found is None:
        return None
    return found.decode() if isinstance(found, bytes) else str(found)


def start_rebuild(
    services: Services, *, reason: str, enqueue: Callable[[str], None], generation: int = 0, resync: bool = False
) -> str:
    """Queue a rebuild that reflects at least registry `generation`, or join the one running.

    `resync`: the next round reads the marketplace from the Integration API instead of copying
    the live index (a running rebuild does one more round for it).
    """
    r, keys = services.redis, services.keys
    if resync:
        r.set(keys.resync_wanted, reason)
    for _ in range(10):
        running = join_running(services, generation)
        if running is not None:
            rec = records.get(r, keys, running)
            if records.is_active(rec):
                return running
            r.delete(keys.current_rebuild)  # a job that died without cleaning up
            continue
        job_id = records.create(r, keys, "resync" if resync else "reindex", reason)
        if r.set(keys.current_rebuild, job_id, nx=True):
            r.set(keys.rebuild_wanted, generation)
            enqueue(job_id)
            return job_id
        records.update(
            r, keys, job_id, state=records.SUCCEEDED, detail="merged into a rebuild started at the same time"
        )
    raise RebuildError("could not start or join a rebuild")


def run_rebuild(services: Services, job_id: str, *, resync_source: RoundSource | None = None) -> None:
    """Run a queued rebuild job to its end. `resync_source` makes the rounds that read the marketplace
    instead of copying the live index (a re-sync); without it, a re-sync asked for fails the job."""
    r, keys = services.redis, services.keys
    # Its token is the job id: the same job redelivered (its process died) takes the lease back.
    lease = Lease(r, keys.rebuild_lock, LOCK_TTL_MS, token=job_id)
    if not lease.acquire():
        records.update(
            r,
            keys,
            job_id,
            state=records.FAILED,
            finishedAt=int(time.time() * 1000),
            error="another rebuild holds the lock; start again when it has finished",
        )
        return
    records.update(r, keys, job_id, state=records.RUNNING, startedAt=int(time.time() * 1000), phase="starting")
    gate = RebuildGate(r, keys, job_id)
    finish = r.register_script(_FINISH)
    new_index: str | None = None
    # While one engine call is slow or retried, the gate, the lock and the job record must stay
    # alive: workers stop marking dirty listings once the gate's state expires.
    done = threading.Event()

    def keep_alive() -> None:
        while not done.wait(KEEPALIVE_S):
            gate.heartbeat()
            records.update(r, keys, job_id)

    threading.Thread(target=keep_alive, name=f"rebuild-keepalive-{job_id[:8]}", daemon=True).start()
    try:
        rounds = 0
        while True:
            rounds += 1
            registry = retry_transient(lambda: schema_registry.load(services.engine, services.names), "registry read")
            live = retry_transient(
                lambda: (
                    live_index(services.engine, services.names)
                    or ensure_index(services.engine, services.settings, services.names)
                ),
                "live index",
            )
            resync = r.getdel(keys.resync_wanted) is not None
            if resync or rounds == 1 or live.schemas.fingerprint() != registry.schemas.fingerprint():
                source = None
                if resync:
                    if resync_source is None:
                        raise RebuildError(
                            "a re-sync was asked for, but this process has no source to read the marketplace from"
                        )
                    source = resync_source(services, job_id)
                new_index = _rebuild_once(services, job_id, gate, live, registry.schemas, source)
            else:
                # Only docs or defaults changed since the last round: no copy needed.
                retry_transient(partial(set_live_schemas, services.engine, live, registry.schemas), "schema update")
                new_index = live.name
            if finish(
                keys=[keys.current_rebuild, keys.rebuild_wanted, keys.resync_wanted], args=[job_id, registry.generation]
            ):
                break
            log.info("search schemas changed or a re-sync was asked for during the rebuild: another round")
        records.update(
            r,
            keys,
            job_id,
            state=records.SUCCEEDED,
            phase="done",
            index=new_index or "",
            rounds=rounds,
            finishedAt=int(time.time() * 1000),
        )
        services.live.invalidate()
    except Exception as exc:
        log.exception("rebuild %s failed", job_id)
        gate.finish()
        records.update(
            r,
            keys,
            job_id,
            state=records.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finishedAt=int(time.time() * 1000),
        )
        if r.get(keys.current_rebuild) in (job_id, job_id.encode()):
            r.delete(keys.current_rebuild, keys.rebuild_wanted)
        raise
    finally:
        done.set()
        lease.release()


def _rebuild_once(
    services: Services,
    job_id: str,
    gate: RebuildGate,
    live: LiveIndex,
    schemas: SchemaSet,
    resync: SourceRound | None = None,
) -> str:
    engine, names, r, keys = services.engine, services.names, services.redis, services.keys
    version = live.version + 1
    target = names.versioned(version)

    def fresh_target() -> None:
        # A target left by a rebuild that died (or by a create that timed out but happened) is
        # never live (the alias is on `live`): start afresh.
        engine.indices.delete(index=target, params={"ignore_unavailable": "true"})
        create_index(engine, services.settings, names, version, schemas, live=False)

    retry_transient(fresh_target, "target index creation")
    gate.open(target)
    if resync is not None:
        copied = resync.fill(live.name, lambda docs: _write(services, target, schemas, docs))
    else:
        copied = _copy_all(services, job_id, gate, live, target, schemas)

    records.update(r, keys, job_id, phase="catch-up")
    caught_up = 0
    chase_until = time.monotonic() + CATCH_UP_SECONDS
    for _ in range(CATCH_UP_ROUNDS):
        if gate.dirty_count() < SWAP_WHEN_DIRTY_BELOW:
            break
        if time.monotonic() > chase_until:
            log.info("rebuild %s: writes outpace the catch-up; pausing them for the swap", job_id)
            break
        caught_up += _copy_dirty(services, gate, live.name, target, schemas, resync)

    records.update(r, keys, job_id, phase="swap")
    paused_at = time.monotonic()
    if not gate.close_for_swap(SWAP_WAIT_S):
        raise RebuildError(f"workers did not pause within {SWAP_WAIT_S:.0f}s for the alias swap")
    while n := _copy_dirty(services, gate, live.name, target, schemas, resync):
        caught_up += n
    retry_transient(lambda: engine.indices.refresh(index=target), "refresh")
    _swap(services, live.name, target)
    gate.finish()
    pause_ms = int((time.monotonic() - paused_at) * 1000)
    # caughtUp: listings written during the copy and copied again; writesPausedMs: the swap's pause.
    records.update(r, keys, job_id, caughtUp=caught_up, writesPausedMs=pause_ms)
    log.info(
        "rebuild %s: %s -> %s, %d documents, %d caught up, writes paused %d ms",
        job_id,
        live.name,
        target,
        copied,
        caught_up,
        pause_ms,
    )
    try:
        retry_transient(lambda: _drop_older_than(services, live.version), "dropping old indices")
    except TransportError as exc:  # the rebuild is done: a leftover index costs disk, not correctness
        log.warning("rebuild %s: could not drop indices older than %s: %s", job_id, live.name, exc)
    return target


def _swap(services: Services, old: str, new: str) -> None:
    def attempt() -> None:
        try:
            swap_aliases(services.engine, services.names, old, new)
        except TransportError:
            # A swap that timed out may have happened: then retrying it would fail for good.
            if live_index_name(services.engine, services.names) == new:
                return
            raise

    retry_transient(attempt, "alias swap")


def _copy_all(
    services: Services, job_id: str, gate: RebuildGate, live: LiveIndex, target: str, schemas: SchemaSet
) -> int:
    engine, r, keys = services.engine, services.redis, services.keys
    total = int(retry_transient(lambda: engine.count(index=live.name), "count")["count"])
    records.update(r, keys, job_id, phase="copy", done=0, total=total, source=live.name, target=target)

    copied = 0
    size = services.settings.rebuild_page_size
    for hits in pages_by_id(engine, live.name, size=size, source=[F.SOURCE], version=True, retry="copy page"):
        _write(
            services, target, schemas, [(h["_id"], h["_source"].get(F.SOURCE) or {}, int(h["_version"])) for h in hits]
        )
        copied += len(hits)
        records.update(r, keys, job_id, done=copied, total=max(total, copied))
    return copied


def _copy_dirty(
    services: Services,
    gate: RebuildGate,
    source: str,
    target: str,
    schemas: SchemaSet,
    resync: SourceRound | None = None,
) -> int:
    ids = gate.pop_dirty(services.settings.rebuild_page_size)
    if not ids:
        return 0
    if resync is not None:
        _write(services, target, schemas, resync.catch_up(ids, source, target))
        return len(ids)
    found = retry_transient(lambda: fetch_sources(services.engine, source, ids), "catch-up read")
    _write(services, target, schemas, [(lid, src, version) for lid, (src, version) in found.items()])
    return len(ids)


def _write(services: Services, target: str, schemas: SchemaSet, docs: Docs) -> None:
    """Copies carry the source's version with external_gte: a newer copy of the same listing wins."""
    lines: list[bytes] = []
    today = utc_today()
    for lid, src, version in docs:
        meta = {"index": {"_id": lid, "version": version, "version_type": "external_gte"}}
        lines.append(orjson.dumps(meta) + b"\n" + orjson.dumps(build_document(lid, src, schemas, today)) + b"\n")
    if not lines:
        return
    body = b"".join(lines)
    resp = retry_transient(lambda: services.engine.bulk(body=body, index=target), "copy write")
    if not resp.get("errors"):
        return
    for item in resp["items"]:
        result = item["index"]
        if result["status"] >= 300 and result["status"] != 409:
            raise RebuildError(f"copying {result.get('_id')} failed: {result['status']} {result.get('error')}")


def _drop_older_than(services: Services, keep_version: int) -> None:
    """Keep the index we just left (rollback); delete anything older."""
    names = services.names
    try:
        found = services.engine.indices.get(index=names.pattern)
    except NotFoundError:
        return
    for index in found:
        version = names.version_of(index)
        if version is not None and version < keep_version:
            services.engine.indices.delete(index=index, params={"ignore_unavailable": "true"})
