"""Prometheus text for `/metrics`: pipeline counters and gauges from Redis (the same for every
API process), histograms of bulk latency (recorded in Redis by the workers) and of query latency
(kept by each API process).

Nothing here calls the engine: a scrape must answer while the engine is sick, which is when it is
needed most. The one engine figure, `engine_up`, is measured by the caller with a short timeout."""

from __future__ import annotations

import time
from typing import Any

import redis

from indexer.jobs import records
from indexer.ops.status import pipeline_status
from indexer.redis_keys import RedisKeys
from indexer.sharetribe.checkpoint import EVENTS, LAST_ERROR, POLLED_AT, SEQ
from infra import histogram


def _histogram_lines(name: str, help_: str, per_bucket: list[int], total: float) -> list[str]:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
    running = 0
    for bound, count in zip(histogram.LABELS, per_bucket, strict=True):
        running += count
        lines.append(f'{name}_bucket{{le="{bound}"}} {running}')
    lines += [f"{name}_sum {total}", f"{name}_count {running}"]
    return lines


def render(client: redis.Redis, keys: RedisKeys, query_latency_key: str, *, engine_up: bool | None = None) -> str:
    status = pipeline_status(client, keys)
    ev = status["events"]
    lines: list[str] = []
    if engine_up is not None:
        lines += [
            "# HELP listing_search_engine_up 1 when the engine answered this process's short probe, else 0.",
            "# TYPE listing_search_engine_up gauge",
            f"listing_search_engine_up {int(engine_up)}",
        ]
    for name, value, help_ in (
        ("events_accepted_total", ev["accepted"], "Events accepted at intake."),
        ("events_applied_total", ev["applied"], "Events settled by the workers (searchable or dead-lettered)."),
        ("events_ignored_total", ev["ignored"], "Events of types search does not use."),
        ("events_dead_lettered_total", ev["deadLettered"], "Events sent to the dead-letter store."),
    ):
        lines += [
            f"# HELP listing_search_{name} {help_}",
            f"# TYPE listing_search_{name} counter",
            f"listing_search_{name} {value}",
        ]
    for name, value, help_ in (
        ("pending_events", status["pending"], "Accepted events not yet searchable."),
        ("waiting_bookings", status["waitingBookings"], "Bookings waiting for the transaction naming their listing."),
        ("ingest_lag_seconds", status["ingestLagSeconds"], "Age of the oldest unsettled event."),
        ("last_sequence_id", status["lastSequenceId"] or 0, "Highest sequenceId whose effect is searchable."),
    ):
        lines += [
            f"# HELP listing_search_{name} {help_}",
            f"# TYPE listing_search_{name} gauge",
            f"listing_search_{name} {value}",
        ]
    bulk = histogram.read_hash(client, keys.bulk_metrics)
    lines += _histogram_lines(
        "listing_search_bulk_seconds", "Duration of the workers' _bulk requests.", *histogram.buckets(bulk)
    )
    lines += [
        "# HELP listing_search_documents_written_total Documents the workers wrote.",
        "# TYPE listing_search_documents_written_total counter",
        f"listing_search_documents_written_total {int(bulk.get(histogram.DOCUMENTS, 0))}",
    ]
    lines += _histogram_lines(
        "listing_search_query_seconds",
        "Public search latency in this API instance (all its worker processes).",
        *histogram.buckets(histogram.read_hash(client, query_latency_key)),
    )
    current = client.get(keys.current_rebuild)
    rec = records.get(client, keys, current.decode()) if isinstance(current, bytes) else None
    running = records.is_active(rec)
    done = rec["progress"]["done"] if rec and running else 0
    total_docs = rec["progress"]["total"] if rec and running else 0
    lines += [
        "# HELP listing_search_rebuild_running 1 while an index rebuild is queued or running.",
        "# TYPE listing_search_rebuild_running gauge",
        f"listing_search_rebuild_running {int(running)}",
        "# HELP listing_search_rebuild_progress_ratio Documents copied / total of the running rebuild.",
        "# TYPE listing_search_rebuild_progress_ratio gauge",
        f"listing_search_rebuild_progress_ratio {done / total_docs if total_docs else 0}",
    ]
    lines += _sync_lines(client, keys)
    return "\n".join(lines) + "\n"


def _sync_lines(client: redis.Redis, keys: RedisKeys) -> list[str]:
    raw: Any = client.hgetall(keys.sync)
    if not raw:
        return []
    got = {k.decode(): v.decode() for k, v in raw.items()}
    polled = int(got.get(POLLED_AT, 0))
    age = max(0.0, time.time() - polled / 1000) if polled else 0.0
    out: list[str] = []
    for name, kind, value, help_ in (
        ("sync_events_total", "counter", int(got.get(EVENTS, 0)), "Events read from the Integration API."),
        ("sync_checkpoint_sequence_id", "gauge", int(got.get(SEQ, 0)), "The sync's checkpoint (0 while re-syncing)."),
        ("sync_last_poll_age_seconds", "gauge", round(age, 3), "Time since the last successful poll."),
        ("sync_failing", "gauge", int(LAST_ERROR in got), "1 while the last poll failed (see status)."),
    ):
        out += [f"# HELP listing_search_{name} {help_}", f"# TYPE listing_search_{name} {kind}"]
        out.append(f"listing_search_{name} {value}")
    return out
