"""Dead letters: list, inspect, replay (API); the reason and the original event are kept."""

from __future__ import annotations

import orjson

from indexer.pipeline import dead_letters
from schemas.events import ChangeEvent, classify
from tests.support.events import listing_event, new_id
from tests.support.service import Service


def test_inspect_and_replay(service: Service) -> None:
    bad = listing_event(1, new_id(), event_type="listing/created")
    bad["attributes"]["resource"]["attributes"]["state"] = "archived"
    service.send([bad])
    # A worker-stage letter (say the engine refused the document before a fix) holds a valid event.
    lid = new_id()
    good = classify(listing_event(2, lid, event_type="listing/created", title="Came back"))
    assert isinstance(good, ChangeEvent)
    pipe = service.services.redis.pipeline()
    dead_letters.add(pipe, service.services.keys, orjson.loads(good.to_json()), "engine refused it", "worker")
    pipe.execute()

    listed = service.operator.get("/v1/dead-letters").json()
    assert listed["meta"]["total"] == 2
    worker_letter, intake_letter = listed["data"]  # newest first
    assert intake_letter["stage"] == "intake" and "state" in intake_letter["reason"]
    assert intake_letter["event"]["attributes"]["resource"]["attributes"]["state"] == "archived"
    shown = service.operator.get(f"/v1/dead-letters/{intake_letter['id']}").json()["data"]
    assert shown == intake_letter
    assert service.operator.get("/v1/dead-letters/0-1").status_code == 404
    assert service.operator.get("/v1/dead-letters/not-an-id").status_code == 404

    still = service.operator.post(f"/v1/dead-letters/{intake_letter['id']}/replay")
    assert still.status_code == 422 and "state" in still.json()["errors"][0]["details"]
    assert service.operator.post(f"/v1/dead-letters/{worker_letter['id']}/replay").status_code == 200
    service.wait_searchable()
    assert service.ids() == [lid]
    everything = service.operator.post("/v1/dead-letters/replay").json()["data"]
    assert everything == {
        "replayed": 0,
        "stillFailing": [{"id": intake_letter["id"], "reason": intake_letter["reason"]}],
    }
    assert service.status()["deadLetters"] == 1
    assert service.public.get("/v1/dead-letters").status_code == 401
    assert service.public.post(f"/v1/dead-letters/{intake_letter['id']}/replay").status_code == 401
