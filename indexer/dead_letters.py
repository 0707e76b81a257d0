"""The dead-letter store: every event we could not apply, with the reason and the event itself."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis

from indexer import stats
from indexer.redis_keys import RedisKeys
from schemas.events import strip_private

INTAKE: str = "intake"
WORKER: str = "worker"


def dead_letter_fields(raw_event: object, reason: str, stage: str) -> dict[str, bytes]:
    try:
        body = orjson.dumps(strip_private(raw_event))
    except (TypeError, orjson.JSONEncodeError):
        body = orjson.dumps(repr(raw_event)[:10_000])
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
    return [
        {
            "id": entry_id.decode(),
            "reason": f[b"reason"].decode(),
            "stage": f[b"stage"].decode(),
            "event": orjson.loads(f[b"event"]),
            "at": int(f[b"at"]),
        }
        for entry_id, f in rows
    ]
