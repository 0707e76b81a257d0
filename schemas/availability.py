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
import functools
import itertools
import re
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


@functools.lru_cache(maxsize=65_536)
def parse_minutes(iso: str) -> int:
    # Cached: exceptions and bookings mostly start and end on a few recurring boundaries.
    return to_minutes(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def utc_today() -> date:
    return datetime.now(UTC).date()


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


def _day_pattern(plan: dict[str, Any]) -> list[int]:
    seats = dict.fromkeys(DAYS, 0)
    for entry in plan.get("entries", []):
        seats[entry["dayOfWeek"]] = max(seats[entry["dayOfWeek"]], entry["seats"])
    return [seats[d] for d in DAYS]


def day_counts(
    plan: dict[str, Any], exceptions: list[tuple[int, int, int]], bookings: list[tuple[int, int, int]], h0: int, h1: int
) -> list[int]:
    """Free seats per UTC day of [h0, h1): the smallest count at any instant of the day.

    A day that an exception or booking covers whole is settled by arithmetic; only the few
    days with a boundary inside them are computed piece by piece.
    """
    pattern = _day_pattern(plan)
    first_weekday = from_minutes(h0).weekday()
    ndays = (h1 - h0) // MINUTES_PER_DAY
    week = pattern[first_weekday:] + pattern[:first_weekday]
    # Most days only follow the plan: fill them by repeating the week, then settle the days an
    # exception or booking touches.
    counts = (week * (ndays // 7 + 1))[:ndays]
    override: list[int | None] = [None] * ndays
    taken: dict[int, int] = {}
    split: set[int] = set()
    touched = False
    # Exceptions by decreasing seats, each written as one slice: where several overlap, the
    # smallest count is written last and stays.
    for s, e, n in sorted(exceptions, key=lambda x: -x[2]):
        first, last = _day_span(s, e, h0, h1, split)
        if first < last:
            override[first:last] = [n] * (last - first)
            touched = True
    for s, e, n in bookings:
        first, last = _day_span(s, e, h0, h1, split)
        for day in range(first, last):
            taken[day] = taken.get(day, 0) + n
    if touched:
        counts = [base if replaced is None else replaced for base, replaced in zip(counts, override, strict=True)]
    for day, held in taken.items():
        counts[day] = max(counts[day] - held, 0)
    for day in split:
        start = h0 + day * MINUTES_PER_DAY
        end = start + MINUTES_PER_DAY
        inside = [(s, e, n) for s, e, n in exceptions + bookings if s < end and e > start]
        cuts = sorted({start, end, *(x for s, e, _ in inside for x in (s, e) if start < x < end)})
        base = pattern[(first_weekday + day) % 7]
        counts[day] = min(_free(base, exceptions, bookings, a, b) for a, b in itertools.pairwise(cuts))
    return counts


def _day_span(s: int, e: int, h0: int, h1: int, split: set[int]) -> tuple[int, int]:
    """The days [first, last) an interval touches; days it starts or ends inside go to `split`."""
    s, e = max(s, h0), min(e, h1)
    if s >= e:
        return 0, 0
    first, last = (s - h0) // MINUTES_PER_DAY, -(-(e - h0) // MINUTES_PER_DAY)
    if (s - h0) % MINUTES_PER_DAY:
        split.add(first)
    if (e - h0) % MINUTES_PER_DAY:
        split.add(last - 1)
    return first, last


def _free(
    plan_seats: int, exceptions: list[tuple[int, int, int]], bookings: list[tuple[int, int, int]], a: int, b: int
) -> int:
    """Free seats on [a, b), an interval no exception or booking boundary falls inside."""
    overriding = [n for s, e, n in exceptions if s <= a and e >= b]
    seats = min(overriding) if overriding else plan_seats
    seats -= sum(n for s, e, n in bookings if s <= a and e >= b)
    return max(seats, 0)


def runs_from_days(counts: list[int], h0: int) -> list[Run]:
    out: list[Run] = []
    levels = sorted(set(counts) - {0})
    if levels and levels[-1] < 256:
        # One byte per day: each level's runs are found by C code (translate, then a regex)
        # instead of a Python loop over the days.
        days = bytes(counts)
        for level in levels:
            mask = days.translate(_LEVEL_MASKS[level])
            out.extend(
                Run(level, h0 + m.start() * MINUTES_PER_DAY, h0 + m.end() * MINUTES_PER_DAY)
                for m in _ONES.finditer(mask)
            )
        return out
    for level in levels:
        start = None
        for i, count in enumerate([*counts, 0]):
            if count >= level and start is None:
                start = i
            elif count < level and start is not None:
                out.append(Run(level, h0 + start * MINUTES_PER_DAY, h0 + i * MINUTES_PER_DAY))
                start = None
    return out


_ONES: Final = re.compile(b"1+")
_LEVEL_MASKS: Final = [bytes(49 if value >= level else 48 for value in range(256)) for level in range(256)]


def _time_plan_base(plan: dict[str, Any], h0: int, h1: int) -> tuple[Segment, ...]:
    entries = tuple((e["dayOfWeek"], e["startTime"], e["endTime"], e["seats"]) for e in plan.get("entries", []))
    return _time_plan_base_cached(plan["timezone"], entries, h0, h1)


@functools.lru_cache(maxsize=2048)
def _time_plan_base_cached(
    timezone: str, entries: tuple[tuple[str, str, str, int], ...], h0: int, h1: int
) -> tuple[Segment, ...]:
    """Opening intervals in the plan's timezone, converted to UTC day by local day (cached:
    many listings share a plan, and the horizon only moves once a day).

    A local time that does not exist (spring forward) maps to the instant of the transition;
    an ambiguous one (fall back) to its first occurrence, so an interval covers every UTC
    instant whose local time falls inside it.
    """
    tz = ZoneInfo(timezone)
    by_day: dict[str, list[tuple[int, int, int]]] = {d: [] for d in DAYS}
    for day_of_week, start_time, end_time, seats_ in entries:
        end = _hhmm(end_time) or MINUTES_PER_DAY  # 00:00 = end of day
        by_day[day_of_week].append((_hhmm(start_time), end, seats_))
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
    return tuple(_flatten(opened, h0, h1, combine=max))


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
    base = _time_plan_base(plan, h0, h1)
    exc = [(max(s, h0), min(e, h1), n) for s, e, n in exceptions if s < h1 and e > h0]
    book = [(max(s, h0), min(e, h1), n) for s, e, n in bookings if s < h1 and e > h0]
    bounds = sorted({*(seg.start for seg in base), h1, *(x for s, e, _ in exc + book for x in (s, e))})
    starts = [seg.start for seg in base]
    out: list[Segment] = []
    for a, b in itertools.pairwise(bounds):
        seats = _free(base[bisect.bisect_right(starts, a) - 1].seats, exc, book, a, b)
        if out and out[-1].seats == seats and out[-1].end == a:
            out[-1] = Segment(out[-1].start, b, seats)
        else:
            out.append(Segment(a, b, seats))
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


def plan_runs(
    plan: dict[str, Any] | None,
    exceptions: list[tuple[int, int, int]],
    bookings: list[tuple[int, int, int]],
    h0: int,
    h1: int,
) -> list[Run] | None:
    """The runs to index for a plan over [h0, h1); None without a plan."""
    if plan is None:
        return None
    if plan["type"] == "availability-plan/day":
        return runs_from_days(day_counts(plan, exceptions, bookings, h0, h1), h0)
    segments = timeline(plan, exceptions, bookings, h0, h1)
    return runs(segments) if segments is not None else None


def listing_runs(plan: dict[str, Any] | None, src: dict[str, Any], today: date) -> list[Run] | None:
    """Runs for a document source, or None when the listing has no plan."""
    if plan is None:
        return None
    h0, h1 = horizon(today)
    exceptions = active_intervals(src.get("availabilityException"))
    bookings = active_intervals(src.get("booking"), bookings=True)
    return plan_runs(plan, exceptions, bookings, h0, h1)


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
