"""The dead-letter store: every event we could not apply, with the reason and the event itself."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis

from indexer.pipeline import booking_links, stats
from indexer.redis_keys import RedisKeys
from schemas.events import DEFAULT_LIMITS, ChangeEvent, EventLimits, Ignored, Rejected, classify, strip_private

INTAKE: str = "intake"
WORKER: str = "worker"
# A hostile producer must not be able to park megabytes in Redis per bad event: past this size
# only the head of the event is kept (the reason is kept whole, up to 2,000 characters).
MAX_STORED_EVENT_BYTES = 64 * 1024
STORED_HEAD_BYTES = 4096


def dead_letter_fields(raw_event: object, reason: str, stage: str) -> dict[str, bytes]:
    try:
        body = orjson.dumps(strip_private(raw_event))
    except (TypeError, orjson.JSONEncodeError):
        body = orjson.dumps(repr(raw_event)[:10_000])
    if len(body) > MAX_STORED_EVENT_BYTES:
        head = body[:STORED_HEAD_BYTES].decode(errors="replace")
        body = orjson.dumps({"notStored": f"the event has {len(body)} bytes; only its head is kept", "head": head})
    return {
        "reason": reason[:2000].encode(),
        "stage": stage.encode(),
        "event": body,
        "at": str(int(time.time() * 1000)).encode(),
    }


def add(pipe: redis.client.Pipeline, keys: RedisKeys, raw_event: object, reason: str, stage: str) -> None:
    """Queue one dead letter on a pipeline, so it lands in the same transaction as its siblings."""
    pipe.xadd(keys.dead_letters, dead_letter_fields(raw_event, reason, stage))  # type: ignore[arg-type]
    pipe.hincrby(keys.stats, stats.DEAD_LETTERED, 1)


def count(client: redis.Redis, keys: RedisKeys) -> int:
    return int(client.xlen(keys.dead_letters))


def recent(client: redis.Redis, keys: RedisKeys, limit: int = 100) -> list[dict[str, Any]]:
    rows: Any = client.xrevrange(keys.dead_letters, count=limit)
    return [_entry(entry_id, f) for entry_id, f in rows]


def _entry(entry_id: bytes | str, f: dict[bytes, bytes]) -> dict[str, Any]:
    return {
        "id": entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        "reason": f[b"reason"].decode(),
        "stage": f[b"stage"].decode(),
        "event": orjson.loads(f[b"event"]),
        "at": int(f[b"at"]),
    }


def get(client: redis.Redis, keys: RedisKeys, letter_id: str) -> dict[str, Any] | None:
    try:
        rows: Any = client.xrange(keys.dead_letters, min=letter_id, max=letter_id)
    except redis.ResponseError:
        return None  # not a stream id
    return _entry(*rows[0]) if rows else None


def replay(
    client: redis.Redis, keys: RedisKeys, letter_id: str, limits: EventLimits = DEFAULT_LIMITS
) -> tuple[bool, str]:
    """Send a dead letter's event through again. Returns (replayed, reason it still fails).

    An intake-stage letter holds the original Flex event (privateData removed), so it is
    validated again; a worker-stage letter holds the already validated event and goes straight
    back to the stream. The letter is removed only once its event is queued.
    """
    letter = get(client, keys, letter_id)
    if letter is None:
        raise KeyError(letter_id)
    if letter["stage"] == WORKER:
        try:
            event = ChangeEvent.from_json(orjson.dumps(letter["event"]))
        except (KeyError, TypeError, orjson.JSONDecodeError) as exc:
            return False, f"the stored event is not a readable event: {exc}"
    else:
        result = classify(letter["event"], limits)
        if isinstance(result, Rejected):
            return False, result.reason
        if isinstance(result, Ignored):
            return False, f"{result.event_type} is not an event type search uses"
        if not isinstance(result, ChangeEvent):  # a transaction's link: nothing to index
            return False, "transaction events are not indexed"
        event = result
    pipe = client.pipeline(transaction=True)
    # Routed like any intake: a booking that does not name its listing finds it (or waits for it)
    # through its transaction.
    booking_links.route(pipe, keys, [booking_links.queue_op(event)])
    pipe.hincrby(keys.stats, stats.ACCEPTED, 1)
    pipe.eval(stats.RAISE_TO_LUA, 1, keys.stats, stats.ACCEPTED_SEQ, event.seq)
    pipe.xdel(keys.dead_letters, letter_id)
    pipe.execute()
    return True, ""


def all_ids(client: redis.Redis, keys: RedisKeys) -> list[str]:
    rows: Any = client.xrange(keys.dead_letters)
    return [entry_id.decode() for entry_id, _ in rows]


def replay_all(
    client: redis.Redis, keys: RedisKeys, limits: EventLimits = DEFAULT_LIMITS
) -> tuple[int, list[tuple[str, str]]]:
    """Replay every dead letter; returns how many went through, and (id, reason) of those still failing."""
    replayed, failing = 0, []
    for letter_id in all_ids(client, keys):
        ok, reason = replay(client, keys, letter_id, limits)
        if ok:
            replayed += 1
        else:
            failing.append((letter_id, reason))
    return replayed, failing
