"""Availability maths: plan + exceptions + bookings -> free seats over the horizon -> runs.

Times are integer minutes since the Unix epoch (UTC). The index stores, per listing, the
*runs*: for each distinct positive free-seat value k, the maximal intervals where free seats
are >= k. Every availability mode is then one nested range query (see ARCHITECTURE.md):

- full:    a run with k >= seats containing the whole window;
- partial: a run with k >= seats overlapping the window by >= minDuration, which holds iff
  run.len >= d, run.end >= window.start + d and run.start <= window.end - d.

Runs at higher levels are sub-intervals of runs at lower ones, so "some run with k >= N" is the
same as "some run of the smallest stored level >= N".
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

MINUTES_PER_DAY: Final = 1440
HORIZON_DAYS: Final = 365
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ACTIVE_BOOKING_STATES: Final = frozenset({"pending", "accepted"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_minutes(value: datetime) -> int:
    return int((value - _EPOCH).total_seconds() // 60)


def from_minutes(value: int) -> datetime:
    return _EPOCH + timedelta(minutes=value)


def parse_minutes(iso: str) -> int:
    return to_minutes(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def day_start(day: date) -> int:
    return (day - date(1970, 1, 1)).days * MINUTES_PER_DAY


def horizon(today: date) -> tuple[int, int]:
    """[today 00:00 UTC, today + 365 days)."""
    start = day_start(today)
    return start, start + HORIZON_DAYS * MINUTES_PER_DAY


@dataclass(frozen=True, slots=True)
class Segment:
    start: int
    end: int
    seats: int


@dataclass(frozen=True, slots=True)
class Run:
    level: int
    start: int
    end: int


def _hhmm(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _day_plan_base(plan: dict[str, Any], h0: int, h1: int) -> list[Segment]:
    seats = dict.fromkeys(DAYS, 0)
    for entry in plan.get("entries", []):
        seats[entry["dayOfWeek"]] = max(seats[entry["dayOfWeek"]], entry["seats"])
    out = []
    for start in range(h0, h1, MINUTES_PER_DAY):
        weekday = DAYS[from_minutes(start).weekday()]
        out.append(Segment(start, start + MINUTES_PER_DAY, seats[weekday]))
    return out


def _time_plan_base(plan: dict[str, Any], h0: int, h1: int) -> list[Segment]:
    """Opening intervals in the plan's timezone, converted to UTC day by local day.

    A local time that does not exist (spring forward) maps to the instant of the transition;
    an ambiguous one (fall back) to its first occurrence, so an interval covers every UTC
    instant whose local time falls inside it.
    """
    tz = ZoneInfo(plan["timezone"])
    by_day: dict[str, list[tuple[int, int, int]]] = {d: [] for d in DAYS}
    for entry in plan.get("entries", []):
        end = _hhmm(entry["endTime"]) or MINUTES_PER_DAY  # 00:00 = end of day
        by_day[entry["dayOfWeek"]].append((_hhmm(entry["startTime"]), end, entry["seats"]))
    first = from_minutes(h0).astimezone(tz).date() - timedelta(days=1)
    last = from_minutes(h1).astimezone(tz).date() + timedelta(days=1)
    opened: list[Segment] = []
    day = first
    while day <= last:
        midnight = datetime(day.year, day.month, day.day)
        for start_min, end_min, seats in by_day[DAYS[day.weekday()]]:
            if end_min <= start_min or seats <= 0:
                continue
            s = to_minutes((midnight + timedelta(minutes=start_min)).replace(tzinfo=tz).astimezone(UTC))
            e = to_minutes((midnight + timedelta(minutes=end_min)).replace(tzinfo=tz).astimezone(UTC))
            s, e = max(s, h0), min(e, h1)
            if s < e:
                opened.append(Segment(s, e, seats))
        day += timedelta(days=1)
    return _flatten(opened, h0, h1, combine=max)


def _flatten(parts: list[Segment], h0: int, h1: int, *, combine: Any) -> list[Segment]:
    """Non-overlapping cover of [h0, h1) by a sweep: overlaps combined, gaps filled with 0."""
    changes: dict[int, list[tuple[int, int]]] = {h0: [], h1: []}
    for p in parts:
        changes.setdefault(p.start, []).append((+1, p.seats))
        changes.setdefault(p.end, []).append((-1, p.seats))
    active: dict[int, int] = {}
    out: list[Segment] = []
    bounds = sorted(b for b in changes if h0 <= b <= h1)
    for a, b in itertools.pairwise(bounds):
        for sign, seats in changes[a]:
            active[seats] = active.get(seats, 0) + sign
            if not active[seats]:
                del active[seats]
        out.append(Segment(a, b, combine(active) if active else 0))
    return out


def timeline(
    plan: dict[str, Any] | None,
    exceptions: list[tuple[int, int, int]],
    bookings: list[tuple[int, int, int]],
    h0: int,
    h1: int,
) -> list[Segment] | None:
    """Free seats over [h0, h1) as merged constant segments; None without a plan.

    Exceptions replace the plan inside their interval (overlapping exceptions: the smallest
    seat count wins); bookings subtract; nothing goes below 0.
    """
    if plan is None:
        return None
    base = _day_plan_base(plan, h0, h1) if plan["type"] == "availability-plan/day" else _time_plan_base(plan, h0, h1)
    exc = [(max(s, h0), min(e, h1), n) for s, e, n in exceptions if s < h1 and e > h0]
    book = [(max(s, h0), min(e, h1), n) for s, e, n in bookings if s < h1 and e > h0]
    bounds = sorted({*(seg.start for seg in base), h1, *(x for s, e, _ in exc + book for x in (s, e))})
    starts = [seg.start for seg in base]
    out: list[Segment] = []
    for a, b in itertools.pairwise(bounds):
        seats = base[bisect.bisect_right(starts, a) - 1].seats
        overriding = [n for s, e, n in exc if s <= a and e >= b]
        if overriding:
            seats = min(overriding)
        seats -= sum(n for s, e, n in book if s <= a and e >= b)
        seats = max(seats, 0)
        if out and out[-1].seats == seats and out[-1].end == a:
            out[-1] = Segment(out[-1].start, b, seats)
        else:
            out.append(Segment(a, b, seats))
    return out


def whole_days(segments: list[Segment]) -> list[Segment]:
    """Day plans count whole UTC days: a day's seats are the smallest seat count within it."""
    out: list[Segment] = []
    i = 0
    if not segments:
        return out
    day = segments[0].start - segments[0].start % MINUTES_PER_DAY
    end = segments[-1].end
    while day < end:
        nxt = day + MINUTES_PER_DAY
        low = None
        while i < len(segments) and segments[i].start < nxt:
            if segments[i].end > day:
                low = segments[i].seats if low is None else min(low, segments[i].seats)
            if segments[i].end > nxt:
                break
            i += 1
        seats = low if low is not None else 0
        if out and out[-1].seats == seats:
            out[-1] = Segment(out[-1].start, nxt, seats)
        else:
            out.append(Segment(day, nxt, seats))
        day = nxt
    return out


def runs(segments: list[Segment]) -> list[Run]:
    """For each distinct positive seat count k, the maximal intervals with free seats >= k."""
    out: list[Run] = []
    for level in sorted({s.seats for s in segments if s.seats > 0}):
        open_run: list[int] | None = None  # [start, end]
        for seg in segments:
            if seg.seats >= level and open_run is not None and open_run[1] == seg.start:
                open_run[1] = seg.end
            elif seg.seats >= level:
                if open_run is not None:
                    out.append(Run(level, open_run[0], open_run[1]))
                open_run = [seg.start, seg.end]
            elif open_run is not None:
                out.append(Run(level, open_run[0], open_run[1]))
                open_run = None
        if open_run is not None:
            out.append(Run(level, open_run[0], open_run[1]))
    return out


def active_intervals(component: dict[str, Any] | None, *, bookings: bool = False) -> list[tuple[int, int, int]]:
    """(start, end, seats) of live exceptions, or of bookings that take seats."""
    out = []
    for entry in (component or {}).values():
        data = entry.get("data")
        if data is None:
            continue
        if bookings and data.get("state") not in ACTIVE_BOOKING_STATES:
            continue
        out.append((parse_minutes(data["start"]), parse_minutes(data["end"]), int(data["seats"])))
    return out


def listing_runs(plan: dict[str, Any] | None, src: dict[str, Any], today: date) -> list[Run] | None:
    """Runs for a document source, or None when the listing has no plan."""
    h0, h1 = horizon(today)
    segs = timeline(
        plan,
        active_intervals(src.get("availabilityException")),
        active_intervals(src.get("booking"), bookings=True),
        h0,
        h1,
    )
    if segs is None:
        return None
    if plan is not None and plan["type"] == "availability-plan/day":
        segs = whole_days(segs)
    return runs(segs)


MODES: Final = ("day-full", "day-partial", "time-full", "time-partial")
PLAN_TYPES: Final = {"day": "availability-plan/day", "time": "availability-plan/time"}


@dataclass(frozen=True, slots=True)
class AvailabilityQuery:
    """A validated availability filter, in the units the index uses (epoch minutes)."""

    mode: str
    start: int
    end: int
    seats: int = 1
    min_duration: int = 0  # minutes

    @property
    def plan_kind(self) -> str:
        return self.mode.split("-", 1)[0]

    @property
    def partial(self) -> bool:
        return self.mode.endswith("partial")

    @property
    def window(self) -> tuple[int, int]:
        """Day modes look at whole UTC days: every day the window touches."""
        if self.plan_kind == "day":
            start = self.start - self.start % MINUTES_PER_DAY
            end = -(-self.end // MINUTES_PER_DAY) * MINUTES_PER_DAY
            return start, end
        return self.start, self.end

    @property
    def needed(self) -> int:
        """The overlap a partial match needs: minDuration, and at least one unit (a day / a minute)."""
        unit = MINUTES_PER_DAY if self.plan_kind == "day" else 1
        return max(self.min_duration, unit)


def run_matches(run: Run, q: AvailabilityQuery) -> bool:
    """The predicate the index query expresses, for one run (used by tests and tools)."""
    ws, we = q.window
    if run.level < q.seats:
        return False
    if not q.partial:
        return run.start <= ws and run.end >= we
    d = q.needed
    # overlap = min(ends) - max(starts) >= d  <=>  every end minus every start >= d.
    return we - ws >= d and run.end - run.start >= d and run.end >= ws + d and run.start <= we - d
