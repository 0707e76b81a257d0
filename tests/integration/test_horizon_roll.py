"""The daily horizon roll recomputes documents built on an earlier day, through the stream."""

from __future__ import annotations

from datetime import timedelta

import pytest

import indexer.pipeline.worker
from schemas.availability import DAYS, horizon, utc_today
from tests.support.events import iso, listing_event, new_id
from tests.support.service import Service


def test_roll_moves_the_horizon_to_today(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    today = utc_today()
    monkeypatch.setattr(indexer.pipeline.worker, "utc_today", lambda: today - timedelta(days=1))
    lid, no_plan = new_id(), new_id()
    ev = listing_event(1, lid, event_type="listing/created")
    ev["attributes"]["resource"]["attributes"]["availabilityPlan"] = {
        "type": "availability-plan/day",
        "entries": [{"dayOfWeek": d, "seats": 1} for d in DAYS],
    }
    service.send([ev, listing_event(2, no_plan, event_type="listing/created")])
    service.wait_searchable()
    _, h1 = horizon(today)
    last_day = {"start": iso(h1 - 1440), "end": iso(h1)}
    first_day = {"start": iso(h1 - 365 * 1440), "end": iso(h1 - 364 * 1440)}
    assert service.ids(**last_day) == []  # built yesterday: its runs stop a day short
    assert service.ids(**first_day) == [lid]

    monkeypatch.undo()
    resp = service.operator.post("/v1/jobs/roll-horizon")
    assert resp.status_code == 200 and resp.json() == {"queued": 1}  # only listings with a plan
    status = service.wait_searchable()
    assert service.ids(**last_day) == [lid]
    assert status["events"]["applied"] == status["events"]["accepted"] == 2  # markers are not events
    assert service.operator.post("/v1/jobs/roll-horizon").json() == {"queued": 0}  # nothing left to roll
    assert service.public.post("/v1/jobs/roll-horizon").status_code == 401
