"""Availability runs vs the brute-force oracle, on random plans, exceptions, bookings and windows."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.availability import (
    AvailabilityQuery,
    day_counts,
    day_start,
    horizon,
    plan_runs,
    run_matches,
    runs_from_days,
    timeline,
)
from tests.support.availability_oracle import DAYS, matches

TODAY = date(2027, 3, 1)  # the horizon holds both 2027 DST changes of New York and Helsinki
H0, H1 = horizon(TODAY)
ZONES = ["America/New_York", "Europe/Helsinki", "UTC", "Asia/Kolkata"]


def transitions(zone: str) -> list[int]:
    """Minutes (UTC) at which the zone's offset changes inside the horizon."""
    tz, out = ZoneInfo(zone), []
    for hour in range(H0 // 60, H1 // 60):
        a = datetime.fromtimestamp(hour * 3600, tz).utcoffset()
        b = datetime.fromtimestamp((hour + 1) * 3600, tz).utcoffset()
        if a != b:
            out.append((hour + 1) * 60)
    return out


@st.composite
def day_case(draw: st.DrawFn) -> dict[str, Any]:
    plan = {
        "type": "availability-plan/day",
        "entries": [{"dayOfWeek": d, "seats": draw(st.integers(0, 3))} for d in DAYS if draw(st.booleans())],
    }
    span = st.tuples(st.integers(0, 120 * 24), st.integers(1, 20 * 24))  # hours from H0, length in hours

    def interval(seats: st.SearchStrategy[int]) -> tuple[int, int, int]:
        start, length = draw(span)
        return H0 + start * 60, H0 + (start + length) * 60, draw(seats)

    exceptions = [interval(st.integers(0, 3)) for _ in range(draw(st.integers(0, 4)))]
    bookings = [interval(st.integers(1, 2)) for _ in range(draw(st.integers(0, 4)))]
    first = draw(st.integers(0, 100))
    length = draw(st.integers(1, 30))
    start = H0 + first * 1440 + draw(st.sampled_from([0, 0, 360]))  # sometimes mid-day: whole days count
    return {
        "plan": plan,
        "exceptions": exceptions,
        "bookings": bookings,
        "start": start,
        "end": H0 + (first + length) * 1440,
        "mode": draw(st.sampled_from(["day-full", "day-partial"])),
        "seats": draw(st.integers(1, 3)),
        "min_duration": draw(st.integers(0, 10)),
        "step": 60,
    }


@st.composite
def time_case(draw: st.DrawFn) -> dict[str, Any]:
    zone = draw(st.sampled_from(ZONES))
    entries = []
    for d in DAYS:
        for _ in range(draw(st.integers(0, 2))):
            a = draw(st.integers(0, 95)) * 15
            b = draw(st.integers(a // 15 + 1, 96)) * 15
            end = "00:00" if b == 1440 else f"{b // 60:02d}:{b % 60:02d}"
            entries.append(
                {
                    "dayOfWeek": d,
                    "startTime": f"{a // 60:02d}:{a % 60:02d}",
                    "endTime": end,
                    "seats": draw(st.integers(0, 3)),
                }
            )
    plan = {"type": "availability-plan/time", "timezone": zone, "entries": entries}
    # Windows near a DST change when the zone has one.
    changes = transitions(zone)
    anchor = (
        draw(st.sampled_from(changes)) if changes and draw(st.booleans()) else H0 + draw(st.integers(0, 300)) * 1440
    )
    anchor -= anchor % 15

    def interval(seats: st.SearchStrategy[int]) -> tuple[int, int, int]:
        start = anchor + draw(st.integers(-4 * 96, 4 * 96)) * 15
        return start, start + draw(st.integers(1, 3 * 96)) * 15, draw(seats)

    exceptions = [interval(st.integers(0, 3)) for _ in range(draw(st.integers(0, 3)))]
    bookings = [interval(st.integers(1, 2)) for _ in range(draw(st.integers(0, 3)))]
    start = max(H0, anchor + draw(st.integers(-3 * 96, 3 * 96)) * 15)
    end = min(H1, start + draw(st.integers(1, 4 * 96)) * 15)
    return {
        "plan": plan,
        "exceptions": exceptions,
        "bookings": bookings,
        "start": start,
        "end": end,
        "mode": draw(st.sampled_from(["time-full", "time-partial"])),
        "seats": draw(st.integers(1, 3)),
        "min_duration": draw(st.sampled_from([0, 15, 30, 60, 90, 240, 600])),
        "step": 15,
    }


def via_runs(case: dict[str, Any]) -> bool:
    """What the index answers: plan type must fit the mode, then one run must match."""
    found = plan_runs(case["plan"], case["exceptions"], case["bookings"], H0, H1)
    assert found is not None
    if (case["plan"]["type"] == "availability-plan/day") != case["mode"].startswith("day"):
        return False
    minutes = case["min_duration"] * (1440 if case["mode"].startswith("day") else 1)
    q = AvailabilityQuery(case["mode"], case["start"], case["end"], case["seats"], minutes)
    return any(run_matches(r, q) for r in found)


def oracle(case: dict[str, Any]) -> bool:
    keys = ("mode", "start", "end", "seats", "min_duration", "step")
    return matches(case["plan"], case["exceptions"], case["bookings"], **{k: case[k] for k in keys})


@settings(max_examples=400, deadline=None)
@given(day_case())
def test_day_plans_agree_with_the_oracle(case: dict[str, Any]) -> None:
    assert via_runs(case) == oracle(case)


@settings(max_examples=400, deadline=None)
@given(time_case())
def test_time_plans_agree_with_the_oracle_across_dst(case: dict[str, Any]) -> None:
    assert via_runs(case) == oracle(case)


def test_hand_checked_day_example() -> None:
    """Mon-Fri 2 seats; a 0-seat exception Tue 10:00-12:00; a 1-seat booking Wed-Thu."""
    monday = H0 + ((7 - TODAY.weekday()) % 7) * 1440
    plan = {
        "type": "availability-plan/day",
        "entries": [{"dayOfWeek": d, "seats": 2} for d in ("mon", "tue", "wed", "thu", "fri")],
    }
    exceptions = [(monday + 1440 + 600, monday + 1440 + 720, 0)]
    bookings = [(monday + 2 * 1440, monday + 4 * 1440, 1)]
    counts = day_counts(plan, exceptions, bookings, H0, H1)
    first = (monday - H0) // 1440
    # Mon 2 | Tue 0 (the exception touches it) | Wed, Thu 1 | Fri 2 | weekend 0
    assert counts[first : first + 7] == [2, 0, 1, 1, 2, 0, 0]
    found = {
        (r.level, r.start - monday, r.end - monday)
        for r in runs_from_days(counts, H0)
        if monday <= r.start < monday + 7 * 1440
    }
    assert (2, 0, 1440) in found and (1, 2 * 1440, 5 * 1440) in found and (2, 4 * 1440, 5 * 1440) in found


def test_time_plan_on_the_spring_forward_day() -> None:
    """New York, Sunday 14 March 2027: 02:00-03:00 local does not exist."""
    plan = {
        "type": "availability-plan/time",
        "timezone": "America/New_York",
        "entries": [{"dayOfWeek": "sun", "startTime": "01:00", "endTime": "04:00", "seats": 1}],
    }
    segments = timeline(plan, [], [], H0, H1)
    assert segments is not None
    day = day_start(date(2027, 3, 14))
    opened = [s for s in segments if s.seats and day <= s.start < day + 1440]
    # 01:00 EST = 06:00 UTC, 04:00 EDT = 08:00 UTC: two real hours.
    assert [(s.start - day, s.end - day) for s in opened] == [(360, 480)]
    fall = day_start(date(2027, 11, 7))
    opened = [s for s in segments if s.seats and fall <= s.start < fall + 1440]
    # 01:00 EDT = 05:00 UTC to 04:00 EST = 09:00 UTC: four real hours (01:00-02:00 happens twice).
    assert [(s.start - fall, s.end - fall) for s in opened] == [(300, 540)]


def test_no_plan_means_no_timeline() -> None:
    assert timeline(None, [], [], H0, H1) is None


def test_runs_are_maximal_and_nested() -> None:
    base = H0
    plan = {"type": "availability-plan/day", "entries": [{"dayOfWeek": d, "seats": 3} for d in DAYS]}
    found = plan_runs(plan, [(base + 1440, base + 2880, 1)], [], H0, H1) or []
    assert [(r.level, r.start - base, r.end - base) for r in found if r.level == 1] == [(1, 0, H1 - base)]
    assert [(r.level, r.start - base) for r in found if r.level == 3] == [(3, 0), (3, 2880)]
    assert timedelta(minutes=found[-1].end - found[-1].start).days == 363
