"""Small value parsers shared by event validation and query parsing."""

from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, datetime

# Ids almost always arrive canonical already; recognising that is ~10x cheaper than uuid.UUID.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_uuid(value: str) -> str:
    """Lower-case hyphenated form, so ids from events and from queries always compare equal."""
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a valid UUID") from None


def parse_timestamp(value: str) -> datetime:
    """ISO-8601 with an explicit offset (or Z); naive times are refused because they are ambiguous."""
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("must be an ISO-8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no timezone offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC form
        raise ValueError(f"{value!r} is out of range in UTC") from None


def format_timestamp(value: datetime) -> str:
    """Flex's wire format: UTC, millisecond precision, trailing Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def normalise_timestamp(value: str) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("must be an ISO-8601 timestamp string")
    return _normalise_cached(value)


@functools.lru_cache(maxsize=65_536)
def _normalise_cached(value: str) -> str:
    # The same few timestamps (day boundaries, creation times) recur across events.
    return format_timestamp(parse_timestamp(value))
