"""`GET /v1/status` gives events accepted and applied per second over the last minute."""

from __future__ import annotations

import time

from indexer.pipeline import event_rates
from tests.support.events import listing_event, new_id
from tests.support.service import running_service


def test_status_rates_count_the_last_minute(engine_url: str, redis_url: str) -> None:
    with running_service(engine_url, redis_url) as svc:
        idle = svc.status()["rates"]
        assert idle["acceptedPerSecond"] == idle["appliedPerSecond"] == 0.0
        ids = [new_id() for _ in range(120)]
        svc.send([listing_event(n + 1, lid, event_type="listing/created") for n, lid in enumerate(ids)])
        # Each listing updated once more: 240 events accepted and applied in all.
        svc.send([listing_event(200 + n, lid, title="again") for n, lid in enumerate(ids)])
        status = svc.wait_searchable()
        rates = status["rates"]
        assert 60 <= rates["windowSeconds"] <= 70, rates
        # Rounded to 0.01 per second: within one event of 240 over the window.
        assert abs(rates["acceptedPerSecond"] * rates["windowSeconds"] - 240) <= 1, rates
        assert abs(rates["appliedPerSecond"] * rates["windowSeconds"] - 240) <= 1, rates
        # A minute and a half later the same buckets are out of the window.
        later = event_rates.read(svc.services.redis, svc.services.keys, now=time.time() + 90)
        assert later["acceptedPerSecond"] == later["appliedPerSecond"] == 0.0, later
