"""Two workers on one stream never lose an update to the same listing."""

from __future__ import annotations

import random

from tests.support.events import history
from tests.support.service import contents, in_order_contents, running_service


def test_two_workers_equal_in_order_application(engine_url: str, redis_url: str) -> None:
    rng = random.Random(77)
    events = history(rng)
    messy = events + rng.sample(events, 90)
    rng.shuffle(messy)
    with running_service(engine_url, redis_url, workers=2, batch_size=25) as two:
        for i in range(0, len(messy), 30):
            two.send(messy[i : i + 30])
        two.wait_searchable(timeout=120)
        got = contents(two)
        status = two.status()
    want = in_order_contents(engine_url, redis_url, events)
    assert len(want) == 6
    assert got == want
    assert status["events"]["applied"] == status["events"]["accepted"] == len(messy)
