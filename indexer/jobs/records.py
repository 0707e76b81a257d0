"""Job records (Redis hashes): what `GET /v1/jobs/{id}` shows and the CLI's progress bar polls."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import redis

from indexer.redis_keys import RedisKeys

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
ACTIVE = (QUEUED, RUNNING)
# A running job that has not reported for this long died with its process.
STALE_AFTER_S = 300
KEEP_S = 7 * 24 * 3600


def _now_ms() -> int:
    return int(time.time() * 1000)


def create(client: redis.Redis, keys: RedisKeys, kind: str, reason: str) -> str:
    job_id = str(uuid.uuid4())
    client.hset(
        keys.job(job_id),
        mapping={
            "id": job_id,
            "kind": kind,
            "reason": reason,
            "state": QUEUED,
            "createdAt": _now_ms(),
            "updatedAt": _now_ms(),
            "done": 0,
            "total": 0,
        },
    )
    client.expire(keys.job(job_id), KEEP_S)
    return job_id


def update(client: redis.Redis, keys: RedisKeys, job_id: str, **fields: str | int) -> None:
    mapping: dict[str | bytes, str | int] = {"updatedAt": _now_ms()}
    mapping.update(fields)
    client.hset(keys.job(job_id), mapping=mapping)  # type: ignore[arg-type]


def get(client: redis.Redis, keys: RedisKeys, job_id: str) -> dict[str, Any] | None:
    raw: Any = client.hgetall(keys.job(job_id))
    if not raw:
        return None
    rec: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for name, value in rec.items():
        # Counters and timestamps are stored as text; ids, names and messages never look like integers.
        digits = value.lstrip("-")
        if digits.isascii() and digits.isdigit() and name not in ("id", "reason", "error", "detail"):
            rec[name] = int(value)
    if "examples" in rec:
        rec["examples"] = orjson.loads(rec["examples"])
    if rec["state"] == RUNNING and _now_ms() - rec["updatedAt"] > STALE_AFTER_S * 1000:
        rec["state"] = FAILED
        rec.setdefault("error", "the job stopped reporting (its process died); start it again")
    total = max(rec.get("total", 0), rec.get("done", 0))
    rec["progress"] = {"done": rec.get("done", 0), "total": total}
    return rec


def is_active(rec: dict[str, Any] | None) -> bool:
    return rec is not None and rec["state"] in ACTIVE
