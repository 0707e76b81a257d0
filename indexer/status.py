"""What an operator (or a client waiting for its events) sees of the pipeline: `GET /v1/status`."""

from __future__ import annotations

import time
from typing import Any

import redis
from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException

from indexer import stats
from indexer.index_admin import live_index
from indexer.redis_keys import RedisKeys
from schemas.index_layout import F, IndexNames, public_filter


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
    raw, pending, oldest, dead = pipe.execute()
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
        "events": {
            "accepted": _int(raw, stats.ACCEPTED),
            "applied": _int(raw, stats.APPLIED),
            "ignored": _int(raw, stats.IGNORED),
            "deadLettered": _int(raw, stats.DEAD_LETTERED),
        },
    }


def index_status(engine: OpenSearch, names: IndexNames) -> dict[str, Any]:
    try:
        live = live_index(engine, names)
        if live is None:
            return {"indexVersion": None, "index": None, "documents": 0, "publishedDocuments": 0}
        total = engine.count(index=live.name)["count"]
        published = engine.count(index=live.name, body={"query": {"bool": {"filter": public_filter()}}})["count"]
        agg = engine.search(
            index=live.name,
            body={"size": 0, "aggs": {"skipped": {"terms": {"field": F.SKIPPED, "size": 500}}}},
        )
        skipped = {b["key"]: b["doc_count"] for b in agg["aggregations"]["skipped"]["buckets"]}
        return {
            "indexVersion": live.version,
            "index": live.name,
            "documents": total,
            "publishedDocuments": published,
            "schemaFingerprint": live.schemas.fingerprint(),
            # Listings whose value for a schema key had the wrong JSON type (skipped, key treated as missing).
            "skippedValues": skipped,
        }
    except OpenSearchException as exc:
        return {"indexVersion": None, "index": None, "documents": None, "engineError": str(exc)[:500]}


def full_status(client: redis.Redis, keys: RedisKeys, engine: OpenSearch, names: IndexNames) -> dict[str, Any]:
    return {**pipeline_status(client, keys), **index_status(engine, names)}
