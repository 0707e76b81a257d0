"""Schema changes rebuild the index while clients search and events keep coming.

During the rebuilds a reader never gets an error or an empty page, and a writer loses nothing:
afterwards the index equals the oracle, an index that received the same events in
sequenceId order with the final schemas in place from the start.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from typing import Any

import pytest
from celery import Celery
from opensearchpy import helpers

from indexer.rebuild import job as rebuild
from tests.support.albany_events import albany_events
from tests.support.service import Service, running_service

READS = [
    {"pub_listingType": "Entire home/apt", "perPage": 24},
    {"keywords": "room", "perPage": 24},
    {"sort": "-price", "perPage": 24, "page": 3},
]


def index_contents(svc: Service) -> dict[str, Any]:
    engine, alias = svc.services.engine, svc.services.names.alias
    return {hit["_id"]: hit["_source"] for hit in helpers.scan(engine, index=alias, query={"query": {"match_all": {}}})}


class Reader(threading.Thread):
    def __init__(self, svc: Service) -> None:
        super().__init__(daemon=True)
        self.svc, self.stop, self.requests, self.failures = svc, threading.Event(), 0, []  # type: list[str]

    def run(self) -> None:
        while not self.stop.is_set():
            for params in READS:
                resp = self.svc.public.get("/v1/api/listings/query", params=params)
                self.requests += 1
                if resp.status_code != 200 or not resp.json()["data"]:
                    self.failures.append(f"{params}: {resp.status_code} {resp.text[:200]}")


class Writer(threading.Thread):
    """Edits real listings (title, guests) and creates new ones, 10 events a request."""

    def __init__(self, svc: Service, base: list[dict[str, Any]], first_seq: int) -> None:
        super().__init__(daemon=True)
        self.svc, self.stop, self.seq = svc, threading.Event(), first_seq
        self.templates = [e for e in base if e["attributes"]["eventType"] == "listing/created"]
        self.sent: list[dict[str, Any]] = []
        self.rng = random.Random(11)

    def event(self) -> dict[str, Any]:
        self.seq += 1
        ev = copy.deepcopy(self.rng.choice(self.templates))
        a = ev["attributes"]
        a["sequenceId"] = self.seq
        a["eventType"] = "listing/updated"
        res = a["resource"]["attributes"]
        res["title"] = f"{res['title']} (edit {self.seq})"
        res["publicData"]["guests"] = self.rng.randint(1, 12)
        if self.rng.random() < 0.1:
            a["eventType"] = "listing/created"
            new_id = f"00000000-0000-4000-8000-{self.seq:012d}"
            a["resourceId"] = a["resource"]["id"] = new_id
        ev["id"] = f"10000000-0000-4000-8000-{self.seq:012d}"
        return ev

    def run(self) -> None:
        while not self.stop.is_set():
            batch = [self.event() for _ in range(10)]
            self.svc.send(batch)
            self.sent += batch
            time.sleep(0.01)


def test_rebuilds_under_reads_and_writes_lose_nothing(engine_url: str, redis_url: str, job_worker: Celery) -> None:
    base = albany_events()
    # Writes pause for about one in-flight worker batch at each swap: keep batches small here.
    with running_service(engine_url, redis_url, jobs=job_worker, rebuild_page_size=25, batch_size=200) as svc:
        for i in range(0, len(base), 500):
            svc.send(base[i : i + 500])
        svc.wait_searchable(timeout=120)
        reader, writer = Reader(svc), Writer(svc, base, first_seq=len(base))
        reader.start()
        writer.start()
        time.sleep(0.3)
        finished = [
            svc.apply_schema("public", "guests", "long"),
            svc.apply_schema("public", "amenities", "multi-enum"),
            svc.apply_schema("metadata", "rating", "long", default=0),
        ]
        time.sleep(0.3)
        writer.stop.set()
        writer.join(30)
        reader.stop.set()
        reader.join(30)
        svc.wait_searchable(timeout=120)

        assert reader.failures == []
        assert reader.requests > 30
        assert len(writer.sent) > 50
        assert svc.status()["indexVersion"] == 4
        assert all(job is not None and job["state"] == "succeeded" for job in finished)
        # The copies really overlapped the writes (and the writes paused only for the swap).
        assert sum(job["caughtUp"] for job in finished if job) > 0
        assert all(job["writesPausedMs"] < 5000 for job in finished if job)
        got = index_contents(svc)
        print(
            f"\nrebuild under load: {reader.requests} queries, 0 failed; {len(writer.sent)} events written; "
            f"caught up {[j['caughtUp'] for j in finished if j]}, writes paused ms "
            f"{[j['writesPausedMs'] for j in finished if j]}"
        )

    with running_service(engine_url, redis_url, jobs=job_worker) as oracle:
        oracle.apply_schema("public", "guests", "long")
        oracle.apply_schema("public", "amenities", "multi-enum")
        oracle.apply_schema("metadata", "rating", "long", default=0)
        everything = sorted(base + writer.sent, key=lambda e: e["attributes"]["sequenceId"])
        for i in range(0, len(everything), 500):
            oracle.send(everything[i : i + 500])
        oracle.wait_searchable(timeout=120)
        want = index_contents(oracle)
    assert len(got) == len(want) > 421
    assert got == want


def test_a_chase_that_cannot_catch_up_pauses_writes_and_loses_nothing(
    engine_url: str,
    redis_url: str,
    job_worker: Celery,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Writes that outpace the catch-up end it by time, not by 200 rounds: here the set is never
    small enough and the time is up at once, so every dirty listing is copied during the pause."""
    monkeypatch.setattr(rebuild, "SWAP_WHEN_DIRTY_BELOW", 0)  # never caught up
    monkeypatch.setattr(rebuild, "CATCH_UP_SECONDS", 0.0)
    caplog.set_level(logging.INFO, logger="indexer.rebuild")
    base = albany_events()
    with running_service(engine_url, redis_url, jobs=job_worker, rebuild_page_size=25, batch_size=200) as svc:
        for i in range(0, len(base), 500):
            svc.send(base[i : i + 500])
        svc.wait_searchable(timeout=120)
        writer = Writer(svc, base, first_seq=len(base))
        writer.start()
        time.sleep(0.3)
        job = svc.apply_schema("public", "guests", "long")
        time.sleep(0.3)
        writer.stop.set()
        writer.join(30)
        svc.wait_searchable(timeout=120)
        assert job is not None and job["state"] == "succeeded", job
        assert any("writes outpace the catch-up" in r.getMessage() for r in caplog.records)
        got = index_contents(svc)
    with running_service(engine_url, redis_url, jobs=job_worker) as oracle:
        oracle.apply_schema("public", "guests", "long")
        everything = sorted(base + writer.sent, key=lambda e: e["attributes"]["sequenceId"])
        for i in range(0, len(everything), 500):
            oracle.send(everything[i : i + 500])
        oracle.wait_searchable(timeout=120)
        want = index_contents(oracle)
    assert len(writer.sent) > 10 and len(got) == len(want) > 421
    assert got == want
