"""What an operator (or a client waiting for its events) sees of the pipeline: `GET /v1/status`."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import redis
from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException

from indexer.index.live import live_index
from indexer.pipeline import event_rates, stats
from indexer.redis_keys import RedisKeys
from indexer.services import Services
from indexer.sharetribe.poller import sync_status
from infra.clients import Deadline, request_options
from infra.engine_connection import connection_of
from infra.failures import engine_failure_reason, redis_failure_reason
from schemas.index_layout import F, IndexNames, public_filter

# What an engine-side status field says when the engine did not tell us in time; `engine.reason` says why.
UNAVAILABLE: Final = "unavailable"
ENGINE_FIELDS: Final = (
    "indexVersion",
    "index",
    "documents",
    "publishedDocuments",
    "schemaFingerprint",
    "skippedValues",
)


def _int(raw: dict[bytes, bytes], name: str) -> int:
    return int(raw.get(name.encode(), 0))


def _optional_int(raw: dict[bytes, bytes], name: str) -> int | None:
    value = raw.get(name.encode())
    return None if value is None else int(value)


def pipeline_status(client: redis.Redis, keys: RedisKeys) -> dict[str, Any]:
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(keys.stats)
    pipe.xlen(keys.events)
    pipe.xrange(keys.events, count=1)
    pipe.xlen(keys.dead_letters)
    # The rates' buckets in the same round trip.
    at = time.time()
    for key in event_rates.window_buckets(keys, at):
        pipe.hmget(key, [event_rates.ACCEPTED, event_rates.APPLIED])
    raw, pending, oldest, dead, *counts = pipe.execute()
    lag = 0.0
    if oldest:
        # Stream ids start with the append time in ms: the age of the oldest unsettled event.
        appended_ms = int(oldest[0][0].split(b"-")[0])
        lag = max(0.0, time.time() - appended_ms / 1000)
    return {
        "lastSequenceId": _optional_int(raw, stats.LAST_SEQ),
        "acceptedSequenceId": _optional_int(raw, stats.ACCEPTED_SEQ),
        "pending": int(pending),
        "ingestLagSeconds": round(lag, 3),
        "deadLetters": int(dead),
        # Bookings accepted but waiting for the transaction that names their listing (not yet
        # in `pending`): searchable once a transaction event or the sync's lookup links them.
        "waitingBookings": max(_int(raw, stats.WAITING), 0),
        "events": {
            "accepted": _int(raw, stats.ACCEPTED),
            "applied": _int(raw, stats.APPLIED),
            "ignored": _int(raw, stats.IGNORED),
            "deadLettered": _int(raw, stats.DEAD_LETTERED),
            "transactionLinks": _int(raw, stats.LINKED),
        },
        "rates": event_rates.rates(counts, at),
    }


def index_status(engine: OpenSearch, names: IndexNames, budget_seconds: float) -> dict[str, Any]:
    """The engine's part of status, five calls within one time budget.

    A sick engine must not hold up the Redis figures an operator needs most during an outage
    (pending, lag), so whatever the engine has not answered when the budget is spent, or when a
    call fails, is `"unavailable"`, and `engine` says why. Fields read before that keep their
    values. With a healthy engine the shape is the one clients always had, plus `engine.state`.
    """
    deadline = Deadline(budget_seconds)
    out: dict[str, Any] = dict.fromkeys(ENGINE_FIELDS, UNAVAILABLE)
    try:
        live = live_index(engine, names, deadline)
        if live is None:
            return {
                "indexVersion": None,
                "index": None,
                "documents": 0,
                "publishedDocuments": 0,
                "engine": {"state": "ok"},
            }
        out.update(indexVersion=live.version, index=live.name, schemaFingerprint=live.schemas.fingerprint())
        out["documents"] = engine.count(index=live.name, **request_options(deadline))["count"]
        out["publishedDocuments"] = engine.count(
            index=live.name, body={"query": {"bool": {"filter": public_filter()}}}, **request_options(deadline)
        )["count"]
        agg = engine.search(
            index=live.name,
            body={"size": 0, "aggs": {"skipped": {"terms": {"field": F.SKIPPED, "size": 500}}}},
            **request_options(deadline),
        )
        # Listings whose value for a schema key had the wrong JSON type (skipped, key treated as missing).
        out["skippedValues"] = {b["key"]: b["doc_count"] for b in agg["aggregations"]["skipped"]["buckets"]}
        out["engine"] = {"state": "ok"}
    except OpenSearchException as exc:
        out["engine"] = {"state": UNAVAILABLE, "reason": engine_failure_reason(exc, deadline, connection_of(engine))}
    return out


def full_status(
    client: redis.Redis, keys: RedisKeys, engine: OpenSearch, names: IndexNames, *, engine_budget_seconds: float
) -> dict[str, Any]:
    return {**pipeline_status(client, keys), **index_status(engine, names, engine_budget_seconds)}


def probe_engine(engine: OpenSearch, names: IndexNames, timeout: float) -> str | None:
    """None when the engine answers a count on the public alias within `timeout`, else the reason.

    A count through the alias public search uses, not a bare `GET /`: an engine whose index cannot
    be searched (missing, red) cannot serve searches either, and a count is about as cheap.
    """
    deadline = Deadline(timeout)
    try:
        engine.count(index=names.public_alias, **request_options(deadline))
    except OpenSearchException as exc:
        return engine_failure_reason(exc, deadline, connection_of(engine))
    return None


def probe_redis(client: redis.Redis, timeout: float) -> str | None:
    """None when Redis answers PING, else the reason; `client` must have socket timeouts of `timeout`
    (redis-py has no per-command timeout)."""
    try:
        client.ping()
    except redis.RedisError as exc:
        return redis_failure_reason(exc, timeout)
    return None


def operator_status(services: Services, *, engine_budget_seconds: float) -> dict[str, Any]:
    """`GET /v1/status`: the pipeline (Redis), the index (the engine, within its budget) and the sync."""
    return {
        **full_status(
            services.redis, services.keys, services.engine, services.names, engine_budget_seconds=engine_budget_seconds
        ),
        "sync": sync_status(services),
    }


def readiness(engine: OpenSearch, names: IndexNames, redis_probe: redis.Redis, timeout: float) -> dict[str, str]:
    """`ok`, or the reason, for the engine and for Redis; both asked side by side, so a hung engine
    and a hung Redis together still take one timeout, not two."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz") as pool:
        engine_check = pool.submit(probe_engine, engine, names, timeout)
        redis_check = pool.submit(probe_redis, redis_probe, timeout)
        return {"engine": engine_check.result() or "ok", "redis": redis_check.result() or "ok"}
