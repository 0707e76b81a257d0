"""A brute-force availability oracle, written from the contract alone (§5), step by step in time.

It shares no code with schemas/availability.py: free seats are computed instant by instant
(UTC -> local time for time plans, which needs no DST rules of our own), then the modes are
checked literally. Callers keep all times on the oracle's step grid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


def plan_seats(plan: dict[str, Any], minute: int) -> int:
    if plan["type"] == "availability-plan/day":
        weekday = DAYS[_utc(minute).weekday()]
        return max([e["seats"] for e in plan["entries"] if e["dayOfWeek"] == weekday], default=0)
    local = _utc(minute).astimezone(ZoneInfo(plan["timezone"]))
    weekday, minute_of_day = DAYS[local.weekday()], local.hour * 60 + local.minute
    seats = 0
    for e in plan["entries"]:
        start = int(e["startTime"][:2]) * 60 + int(e["startTime"][3:])
        end = int(e["endTime"][:2]) * 60 + int(e["endTime"][3:]) or 1440
        if e["dayOfWeek"] == weekday and start <= minute_of_day < end:
            seats = max(seats, e["seats"])
    return seats


def free_at(
    plan: dict[str, Any], exceptions: list[tuple[int, int, int]], bookings: list[tuple[int, int, int]], minute: int
) -> int:
    covering = [n for s, e, n in exceptions if s <= minute < e]
    seats = min(covering) if covering else plan_seats(plan, minute)
    seats -= sum(n for s, e, n in bookings if s <= minute < e)
    return max(seats, 0)


def matches(
    plan: dict[str, Any] | None,
    exceptions: list[tuple[int, int, int]],
    bookings: list[tuple[int, int, int]],
    *,
    mode: str,
    start: int,
    end: int,
    seats: int,
    min_duration: int,
    step: int,
) -> bool:
    """min_duration in days for day modes, minutes for time modes; `step` divides every time."""
    if plan is None:
        return False
    is_day_plan = plan["type"] == "availability-plan/day"
    if mode.startswith("day") != is_day_plan:
        return False
    if is_day_plan:
        first, last = start // 1440, -(-end // 1440)
        counts = [
            min(free_at(plan, exceptions, bookings, m) for m in range(d * 1440, (d + 1) * 1440, step))
            for d in range(first, last)
        ]
        ok = [c >= seats for c in counts]
        if mode == "day-full":
            return all(ok)
        need = max(min_duration, 1)
        return _longest_true(ok) >= need
    ok = [free_at(plan, exceptions, bookings, m) >= seats for m in range(start, end, step)]
    if mode == "time-full":
        return all(ok)
    return _longest_true(ok) * step >= max(min_duration, 1)


def _longest_true(flags: list[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best
