"""Event fuzzing: 10,000 malformed or hostile events through `classify`, each rejected with a
reason that names what is wrong, none raising, and the valid event each was made from accepted.

`LISTING_SEARCH_FUZZ_EVENTS` runs more (or fewer) cases.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import ChangeEvent, EventLimits, Rejected, classify
from tests.support.events import listing_event, new_id
from tests.support.hostile_events import CORRUPTIONS, FAMILIES, applicable, corrupt, good_event

FUZZ_EVENTS = int(os.environ.get("LISTING_SEARCH_FUZZ_EVENTS", "10000"))


def test_hostile_events_are_rejected_with_a_reason() -> None:
    seen: Counter[str] = Counter()
    examples = 0

    @settings(
        max_examples=FUZZ_EVENTS,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(family=st.sampled_from(FAMILIES), data=st.data(), rng=st.randoms(use_true_random=False))
    def run(family: str, data: st.DataObject, rng: random.Random) -> None:
        nonlocal examples
        examples += 1
        good = good_event(7, family, new_id())
        assert isinstance(classify(good), ChangeEvent)
        chosen = data.draw(
            st.lists(st.sampled_from(applicable(family)), min_size=1, max_size=3, unique_by=lambda c: c.name)
        )
        hostile, applied = corrupt(good, chosen, rng)
        result = classify(hostile)
        assert isinstance(result, Rejected), (applied, result)
        parts = result.reason.split("; ")
        assert any(c.matches(part) for c in applied for part in parts), (result.reason, [c.name for c in applied])
        seen.update(c.name for c in applied)

    run()
    assert examples >= FUZZ_EVENTS
    # Every kind of corruption was exercised, not just the easy ones.
    assert set(seen) == {c.name for c in CORRUPTIONS}, set(c.name for c in CORRUPTIONS) - set(seen)


def test_ten_megabyte_events_are_rejected_quickly() -> None:
    huge = "x" * (10 * 1024 * 1024)
    events = [
        listing_event(1, new_id(), title=huge),
        listing_event(1, new_id(), description=huge),
        listing_event(1, new_id(), public_data={"blob": huge}),
    ]
    for ev in events:
        began = time.perf_counter()
        result = classify(ev)
        assert isinstance(result, Rejected) and result.reason.startswith("resource.attributes.")
        assert time.perf_counter() - began < 1.0


def test_extended_data_limits_are_configurable() -> None:
    tight = EventLimits(max_extended_data_bytes=1024, max_extended_data_depth=3)
    small_and_flat = listing_event(1, new_id(), public_data={"a": {"b": 1}})
    assert isinstance(classify(small_and_flat, tight), ChangeEvent)
    deep = classify(listing_event(1, new_id(), public_data={"a": {"b": {"c": 1}}}), tight)
    assert isinstance(deep, Rejected) and deep.reason == "resource.attributes.publicData: nested deeper than 3 levels"
    big = classify(listing_event(1, new_id(), public_data={"a": "x" * 2000}), tight)
    assert isinstance(big, Rejected) and "more than the 1024 allowed" in big.reason
