"""A hostile batch through HTTP intake and the worker: every bad event is dead-lettered with its
reason, whole bodies that cannot be events are refused, the worker survives, and the good events
sent around them all become searchable."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.support.events import listing_event, new_id
from tests.support.hostile_events import FAMILIES, applicable, corrupt, good_event, wire_safe
from tests.support.service import Service, contract_error

GOOD_LISTINGS = 500
HOSTILE = 3000
MAX_REQUEST_BYTES = 8 * 1024 * 1024  # under the 10 MiB body limit, so no request is refused whole


def hostile_events(rng: random.Random, count: int, first_seq: int) -> list[object]:
    out: list[object] = []
    while len(out) < count:
        family = rng.choice(FAMILIES)
        chosen = rng.sample(applicable(family), rng.randint(1, 2))
        event, _ = corrupt(good_event(first_seq + len(out), family, new_id()), chosen, rng)
        if wire_safe(event):
            out.append(event)
    return out


def requests_of(events: list[object], per_request: int) -> list[bytes]:
    """Bodies of at most `per_request` events and MAX_REQUEST_BYTES each."""
    bodies: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for event in events:
        encoded = json.dumps(event).encode()
        if current and (len(current) == per_request or size + len(encoded) > MAX_REQUEST_BYTES):
            bodies.append(b'{"data": [' + b",".join(current) + b"]}")
            current, size = [], 0
        current.append(encoded)
        size += len(encoded) + 1
    if current:
        bodies.append(b'{"data": [' + b",".join(current) + b"]}")
    return bodies


def post(svc: Service, body: bytes) -> Any:
    return svc.operator.post("/v1/events", content=body, headers={"Content-Type": "application/json"})


def test_hostile_batch_through_intake_and_worker(service: Service) -> None:
    rng = random.Random(20261122)
    listing_ids = [new_id() for _ in range(GOOD_LISTINGS)]
    good: list[object] = [good_event(i + 1, "listing", lid) for i, lid in enumerate(listing_ids)]
    # Their components (an exception, a booking, stock), plus valid-but-extreme ones the worker must digest.
    seq = GOOD_LISTINGS
    for lid in listing_ids[:100]:
        for family in ("availabilityException", "booking", "stockAdjustment"):
            seq += 1
            good.append(good_event(seq, family, lid))
    seq += 1
    extreme = good_event(seq, "availabilityException", listing_ids[0])
    extreme["attributes"]["resource"]["attributes"].update(start="1970-01-01T00:00:00Z", end="9999-12-31T00:00:00Z")
    good.append(extreme)
    hostile = hostile_events(rng, HOSTILE, first_seq=seq + 1)
    batch = good + hostile
    rng.shuffle(batch)

    accepted = dead = ignored = 0
    bodies = requests_of(batch, service.services.settings.max_events_per_request)
    for body in bodies:
        resp = post(service, body)
        assert resp.status_code == 202, resp.text[:500]
        data = resp.json()["data"]
        accepted, dead, ignored = accepted + data["accepted"], dead + data["deadLettered"], ignored + data["ignored"]
    assert (accepted, dead, ignored) == (len(good), HOSTILE, 0)

    # Bodies that cannot be events at all are refused whole, in the contract's shape, counting nothing.
    contract_error(post(service, b'{"data": [' + b" " * (10 * 1024 * 1024) + b"]}"), 413, ["body"])
    contract_error(post(service, b'{"data": [{"sequenceId": NaN}]}'), 400)
    contract_error(post(service, b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), 400)
    contract_error(post(service, b'{"data": {"0": {}}}'), 400)

    status = service.wait_searchable(timeout=120)
    assert status["deadLetters"] == HOSTILE
    assert status["events"]["accepted"] == len(good) and status["events"]["deadLettered"] == HOSTILE
    assert all(w.thread is not None and w.thread.is_alive() for w in service.workers)
    assert service.id_set() == set(listing_ids)
    letters = service.operator.get("/v1/dead-letters", params={"limit": 1000}).json()["data"]
    assert all(letter["reason"] and letter["stage"] == "intake" for letter in letters)

    # And the worker keeps working afterwards.
    late = new_id()
    service.send([listing_event(10**9, late, event_type="listing/created")])
    service.wait_searchable()
    assert late in service.id_set()
