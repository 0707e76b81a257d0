"""Event intake: validate each event, append the good ones to the stream, dead-letter the bad.

Every intake path (HTTP, the demo importer, later the Sharetribe poller) goes through `accept`,
so validation and counting happen in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis
from redis.client import Pipeline

from indexer.pipeline import booking_links, dead_letters, event_rates, stats
from indexer.redis_keys import RedisKeys
from infra.settings import Settings
from schemas.events import DEFAULT_LIMITS, ChangeEvent, EventLimits, Ignored, Rejected, TransactionLink, classify


def event_limits(settings: Settings) -> EventLimits:
    return EventLimits(settings.max_extended_data_bytes, settings.max_extended_data_depth)


class Backpressure(RuntimeError):
    """Too many events are waiting; the caller should retry later."""


@dataclass(frozen=True)
class IntakeResult:
    accepted: int
    dead_lettered: int
    ignored: int
    # Highest sequenceId among the accepted events (None if none): what to wait for in status.
    max_sequence_id: int | None

    def as_json(self) -> dict[str, int | None]:
        return {
            "accepted": self.accepted,
            "deadLettered": self.dead_lettered,
            "ignored": self.ignored,
            "maxSequenceId": self.max_sequence_id,
        }


def accept(
    client: redis.Redis,
    keys: RedisKeys,
    raw_events: Sequence[object],
    *,
    max_pending: int,
    limits: EventLimits = DEFAULT_LIMITS,
    also: Callable[[Pipeline], None] | None = None,
) -> IntakeResult:
    """`also` adds writes to the same transaction: the sync's checkpoint moves exactly when the
    events it covers are queued."""
    if client.xlen(keys.events) >= max_pending:
        raise Backpressure(f"{max_pending} events are waiting to be indexed")
    good: list[ChangeEvent] = []
    bad: list[tuple[object, str]] = []
    ignored = 0
    # In the order given: a transaction's link and the bookings it releases are one script's work.
    ops: list[tuple[str | bytes, ...]] = []
    for raw in raw_events:
        result = classify(raw, limits)
        if isinstance(result, ChangeEvent):
            good.append(result)
            ops.append(booking_links.queue_op(result))
        elif isinstance(result, TransactionLink):
            ops.append(("k", result.transaction_id, result.listing_id, result.booking_id or ""))
        elif isinstance(result, Rejected):
            bad.append((raw, result.reason))
        elif isinstance(result, Ignored):
            ignored += 1
    max_seq = max((e.seq for e in good), default=None)
    # One transaction: a crash can never leave an event counted but not queued, or the reverse.
    pipe = client.pipeline(transaction=True)
    booking_links.route(pipe, keys, ops)
    for raw, reason in bad:
        dead_letters.add(pipe, keys, raw, reason, dead_letters.INTAKE)
    if max_seq is not None:
        pipe.hincrby(keys.stats, stats.ACCEPTED, len(good))
        event_rates.count(pipe, keys, event_rates.ACCEPTED, len(good))
        pipe.eval(stats.RAISE_TO_LUA, 1, keys.stats, stats.ACCEPTED_SEQ, max_seq)
    if ignored:
        pipe.hincrby(keys.stats, stats.IGNORED, ignored)
    if also is not None:
        also(pipe)
    if ops or bad or ignored or also is not None:
        pipe.execute()
    return IntakeResult(len(good), len(bad), ignored, max_seq)
