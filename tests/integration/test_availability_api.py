"""Availability through the API agrees with the brute-force oracle.

Random day and time plans (time plans in zones with DST), random exceptions and bookings sent
as events, then random windows, modes, seats and minDurations: for every query, the ids the
API returns equal the listings the oracle says match. Listings without a plan never match.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.availability import from_minutes, horizon, utc_today
from tests.support.availability_oracle import DAYS, matches
from tests.support.events import exception_event, iso, listing_event, new_id
from tests.support.service import Service, running_service

ZONES = ["America/New_York", "Europe/Helsinki", "Australia/Sydney"]
H0, H1 = horizon(utc_today())


def dst_changes() -> list[int]:
    out = []
    for zone in ZONES:
        tz = ZoneInfo(zone)
        for hour in range(H0 // 60, H1 // 60 - 1, 6):
            if (
                datetime.fromtimestamp(hour * 3600, tz).utcoffset()
                != datetime.fromtimestamp((hour + 6) * 3600, tz).utcoffset()
            ):
                out.append(hour * 60)
    return out


def booking_event(
    seq: int, listing_id: str, booking_id: str, start: int, end: int, seats: int, state: str
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "event",
        "attributes": {
            "sequenceId": seq,
            "eventType": "booking/created",
            "resourceId": booking_id,
            "resourceType": "booking",
            "resource": {
                "id": booking_id,
                "type": "booking",
                "attributes": {"start": iso(start), "end": iso(end), "seats": seats, "state": state},
                "relationships": {"listing": {"data": {"id": listing_id, "type": "listing"}}},
            },
        },
    }


class World:
    """Random listings with plans, exceptions and bookings, as events and as oracle input."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seq = 0
        self.listings: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.anchors = dst_changes() or [H0 + 30 * 1440]

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def add(self, kind: str) -> None:
        rng, lid = self.rng, new_id()
        if kind == "day":
            plan: dict[str, Any] | None = {
                "type": "availability-plan/day",
                "entries": [{"dayOfWeek": d, "seats": rng.randint(0, 3)} for d in DAYS if rng.random() < 0.8],
            }
            unit, spread = 60, (H0, H0 + 120 * 1440)
        elif kind == "time":
            entries = []
            for d in DAYS:
                if rng.random() < 0.8:
                    a = rng.randint(0, 80) * 15
                    b = rng.randint(a // 15 + 1, 96) * 15
                    entries.append(
                        {
                            "dayOfWeek": d,
                            "startTime": f"{a // 60:02d}:{a % 60:02d}",
                            "endTime": "00:00" if b == 1440 else f"{b // 60:02d}:{b % 60:02d}",
                            "seats": rng.randint(0, 3),
                        }
                    )
            plan = {"type": "availability-plan/time", "timezone": rng.choice(ZONES), "entries": entries}
            anchor = rng.choice(self.anchors)
            unit, spread = 15, (max(H0, anchor - 6 * 1440), min(H1 - 1440, anchor + 6 * 1440))
        else:
            plan, unit, spread = None, 60, (H0, H0 + 120 * 1440)
        ev = listing_event(self.next_seq(), lid, event_type="listing/created")
        ev["attributes"]["resource"]["attributes"]["availabilityPlan"] = plan
        self.events.append(ev)
        exceptions, bookings = [], []
        for _ in range(rng.randint(0, 4)):
            s = rng.randrange(spread[0], spread[1], unit)
            e = s + rng.randint(1, 48) * unit
            n = rng.randint(0, 3)
            exceptions.append((s, e, n))
            self.events.append(exception_event(self.next_seq(), lid, new_id(), start=iso(s), end=iso(e), seats=n))
        for _ in range(rng.randint(0, 4)):
            s = rng.randrange(spread[0], spread[1], unit)
            e = s + rng.randint(1, 48) * unit
            n = rng.randint(1, 2)
            state = rng.choice(["pending", "accepted", "accepted", "declined", "cancelled"])
            if state in ("pending", "accepted"):
                bookings.append((s, e, n))
            self.events.append(booking_event(self.next_seq(), lid, new_id(), s, e, n, state))
        self.listings[lid] = {
            "plan": plan,
            "exceptions": exceptions,
            "bookings": bookings,
            "unit": unit,
            "spread": spread,
        }

    def query(self) -> dict[str, Any]:
        rng = self.rng
        mode = rng.choice(["day-full", "day-partial", "time-full", "time-partial"])
        if mode.startswith("day"):
            first = rng.randint(0, 100)
            start = H0 + first * 1440 + rng.choice([0, 0, 600])
            end = H0 + (first + rng.randint(1, 20)) * 1440
            duration = rng.randint(0, 5)
        else:
            anchor = rng.choice(self.anchors)
            start = max(H0, anchor + rng.randint(-5 * 96, 5 * 96) * 15)
            end = min(H1, start + rng.randint(1, 3 * 96) * 15)
            duration = rng.choice([0, 15, 60, 120, 300])
        q: dict[str, Any] = {
            "mode": mode,
            "start": start,
            "end": end,
            "seats": rng.randint(1, 3),
            "min_duration": duration if mode.endswith("partial") else 0,
        }
        if mode.endswith("partial"):
            window = (end - start) if mode.startswith("time") else (-(-end // 1440) - start // 1440) * 1440
            need = max(duration * (1440 if mode.startswith("day") else 1), 1440 if mode.startswith("day") else 1)
            if window < need:
                q["min_duration"] = 0
        return q

    def expected(self, q: dict[str, Any]) -> set[str]:
        out = set()
        for lid, L in self.listings.items():
            step = 60 if q["mode"].startswith("day") else 15
            if matches(
                L["plan"],
                L["exceptions"],
                L["bookings"],
                mode=q["mode"],
                start=q["start"],
                end=q["end"],
                seats=q["seats"],
                min_duration=q["min_duration"],
                step=step,
            ):
                out.add(lid)
        return out


@pytest.fixture(scope="module")
def world(engine_url: str, redis_url: str) -> Iterator[tuple[Service, World]]:
    w = World(random.Random(20261122))
    for kind in ["day"] * 30 + ["time"] * 30 + ["none"] * 5:
        w.add(kind)
    delivery = list(w.events)
    w.rng.shuffle(delivery)  # exceptions and bookings may arrive before their listing
    with running_service(engine_url, redis_url) as svc:
        for i in range(0, len(delivery), 100):
            svc.send(delivery[i : i + 100])
        svc.wait_searchable()
        yield svc, w


def test_api_agrees_with_the_oracle(world: tuple[Service, World]) -> None:
    svc, w = world
    checked = nonempty = 0
    for _ in range(300):
        q = w.query()
        params: dict[str, Any] = {
            "start": iso(q["start"]),
            "end": iso(q["end"]),
            "availability": q["mode"],
            "seats": q["seats"],
        }
        if q["mode"].endswith("partial"):
            params["minDuration"] = q["min_duration"]
        got = set(svc.all_ids(**params))
        want = w.expected(q)
        assert got == want, (params, sorted(got ^ want))
        checked += 1
        nonempty += bool(want)
    assert checked == 300 and nonempty > 100  # the queries really discriminate


def test_partial_queries_page_and_count_like_any_other(world: tuple[Service, World]) -> None:
    svc, _ = world
    params = {"start": iso(H0 + 1440), "end": iso(H0 + 30 * 1440), "availability": "day-partial", "minDuration": 1}
    total = svc.query(perPage=100, **params)["meta"]["totalItems"]
    assert total > 5
    seen: list[str] = []
    for page in range(1, -(-total // 3) + 1):
        body = svc.query(perPage=3, page=page, **params)
        assert body["meta"]["totalItems"] == total
        seen += [d["id"] for d in body["data"]]
    assert len(seen) == len(set(seen)) == total


def test_dates_never_match_listings_without_a_plan(world: tuple[Service, World]) -> None:
    svc, w = world
    no_plan = {lid for lid, L in w.listings.items() if L["plan"] is None}
    for mode in ("day-full", "day-partial", "time-full", "time-partial"):
        got = set(svc.all_ids(**{"start": iso(H0 + 1440), "end": iso(H0 + 2 * 1440), "availability": mode}))
        assert not got & no_plan


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"start": "2020-01-01T00:00:00Z", "end": "2020-01-03T00:00:00Z"}, "start"),
        ({"start": iso(H0 + 1440), "end": iso(H0 + 1440)}, "end"),
        ({"start": iso(H0 + 1440), "end": iso(H0 + 100 * 1440)}, "end"),
        ({"start": iso(H1 - 1440), "end": iso(H1 + 1440)}, "end"),
        ({"start": iso(H0 + 1440), "end": iso(H0 + 2 * 1440), "availability": "hourly"}, "availability"),
        ({"start": iso(H0 + 1440), "end": iso(H0 + 2 * 1440), "minDuration": "2"}, "minDuration"),
        (
            {"start": iso(H0 + 1440), "end": iso(H0 + 2 * 1440), "availability": "day-partial", "minDuration": "3"},
            "minDuration",
        ),
        ({"start": iso(H0 + 1440), "end": iso(H0 + 2 * 1440), "seats": "0"}, "seats"),
        ({"start": iso(H0 + 1440)}, "end"),
        ({"availability": "day-full"}, "start"),
        ({"start": "2027-13-01", "end": "2027-13-02"}, "start"),
        ({"start": "2027-01-01T00:00:00", "end": "2027-01-02T00:00:00"}, "start"),
    ],
)
def test_bad_availability_parameters(world: tuple[Service, World], params: dict[str, str], param: str) -> None:
    svc, _ = world
    resp = svc.public.get("/v1/api/listings/query", params=params)
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["source"]["path"] == ["query", param]


def test_now_is_inside_the_horizon() -> None:
    now = datetime.now(UTC)
    assert H0 <= int(now.timestamp() // 60) < H1
    assert from_minutes(H1) - from_minutes(H0) == timedelta(days=365)
