"""Failures of the worker process and of the engine lose nothing."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import threading
import time
from typing import Any

from indexer.jobs import records
from indexer.rebuild.job import _swap, run_rebuild, start_rebuild
from infra.clients import opensearch_client
from tests.support.events import listing_event, new_id
from tests.support.processes import crash, stop
from tests.support.service import Service, contents, in_order_contents, running_service, worker_process
from tests.support.tcp_proxy import TcpProxy


def doomed_worker(svc: Service, engine_url: str, name: str) -> subprocess.Popen[str]:
    return worker_process(
        svc,
        engine_url,
        name,
        LISTING_SEARCH_BATCH_SIZE="100",
        LISTING_SEARCH_CLAIM_IDLE_MS="1500",
        LISTING_SEARCH_LOCK_TTL_MS="2000",
    )


def five_thousand_events() -> list[dict[str, Any]]:
    listings = [new_id() for _ in range(1000)]
    events = []
    for seq in range(1, 5001):
        lid = listings[(seq * 7919) % 1000]
        kind = "listing/created" if seq <= 1000 else "listing/updated"
        events.append(listing_event(seq, lid, event_type=kind, title=f"v{seq}", price=seq))
    return events


def test_sigkill_mid_batch_loses_nothing(engine_url: str, redis_url: str) -> None:
    events = five_thousand_events()
    with running_service(engine_url, redis_url, workers=0) as svc:
        for i in range(0, len(events), 500):
            svc.send(events[i : i + 500])
        first = doomed_worker(svc, engine_url, "doomed")
        try:
            deadline = time.monotonic() + 120
            while svc.status()["events"]["applied"] < 800:
                assert first.poll() is None, first.stderr.read() if first.stderr else ""
                assert time.monotonic() < deadline, "the worker made no progress"
                time.sleep(0.02)
            # Kill it mid-batch for sure: freeze it, and kill only once it holds delivered entries
            # (a kill that lands between an acknowledgement and the next read tests nothing).
            while True:
                first.send_signal(signal.SIGSTOP)
                if svc.services.redis.xpending(svc.services.keys.events, svc.services.keys.group)["pending"] > 0:
                    break
                first.send_signal(signal.SIGCONT)
                assert time.monotonic() < deadline, "the worker never held a batch"
                time.sleep(0.005)
            crash(first)
        finally:
            if first.poll() is None:
                crash(first)
        status = svc.status()
        assert 0 < status["events"]["applied"] < 5000 and status["pending"] > 0
        summary = svc.services.redis.xpending(svc.services.keys.events, svc.services.keys.group)
        assert summary["pending"] > 0  # the killed worker's batch stays pending
        second = doomed_worker(svc, engine_url, "successor")
        try:
            svc.wait_searchable(timeout=180)
        finally:
            stop(second)
        status = svc.status()
        assert status["events"]["applied"] == status["events"]["accepted"] == 5000
        assert status["lastSequenceId"] == 5000 and status["deadLetters"] == 0
        got = contents(svc)
    want = in_order_contents(engine_url, redis_url, events, page=500)
    assert len(got) == 1000 and got == want


def test_engine_outage_loses_nothing_and_status_shows_the_lag(engine_url: str, redis_url: str) -> None:
    """The worker's engine goes away for ~20 s while events keep coming in."""
    from listing_search.runner import start_worker

    proxy = TcpProxy(engine_url)
    events = five_thousand_events()[:1500]
    with running_service(engine_url, redis_url, workers=0, retry_max_seconds=1.0) as svc:
        base = svc.services
        cut_off = dataclasses.replace(base, engine=opensearch_client(proxy.url, timeout=5))
        worker = start_worker(cut_off, consumer="behind-proxy")
        try:
            svc.send(events[:500])
            svc.wait_searchable()
            proxy.down()
            started = time.monotonic()
            lags, pendings = [], []
            for i in range(500, 1500, 100):
                svc.send(events[i : i + 100])
                status = svc.status()  # the API reaches the engine directly
                lags.append(status["ingestLagSeconds"])
                pendings.append(status["pending"])
                time.sleep(1.5)
            while time.monotonic() - started < 20:
                time.sleep(0.5)
            status = svc.status()
            assert status["pending"] == 1000 and status["lastSequenceId"] == 500
            assert status["ingestLagSeconds"] >= 15  # the oldest waiting event's age
            assert pendings == sorted(pendings) and pendings[-1] == 1000  # a growing backlog
            proxy.up()
            recovered = time.monotonic()
            status = svc.wait_searchable(timeout=60)
            print(
                f"\nengine outage: {time.monotonic() - started:.0f}s down; caught up "
                f"{time.monotonic() - recovered:.1f}s after it came back; lags seen {lags}"
            )
        finally:
            worker.stop()
            proxy.down()
        assert status["events"]["applied"] == status["events"]["accepted"] == 1500
        assert status["lastSequenceId"] == 1500 and status["deadLetters"] == 0 and status["ingestLagSeconds"] == 0
        assert len(contents(svc)) == 1000
        titles = {
            d["id"]: d["attributes"]["title"]
            for d in (
                svc.query(ids=lid)["data"][0] for lid in {e["attributes"]["resourceId"] for e in events[1400:1410]}
            )
        }
        newest: dict[str, str] = {}
        for e in events:
            newest[e["attributes"]["resourceId"]] = e["attributes"]["resource"]["attributes"]["title"]
        assert all(newest[lid] == title for lid, title in titles.items())


def start_rebuild_behind(svc: Service, proxy: TcpProxy) -> tuple[str, list[BaseException]]:
    """A rebuild job whose engine calls go through `proxy`, on a thread; its failures collected."""
    base = svc.services
    behind = dataclasses.replace(base, engine=opensearch_client(proxy.url, timeout=5))
    failures: list[BaseException] = []

    def run(job_id: str) -> None:
        try:
            run_rebuild(behind, job_id)
        except BaseException as exc:
            failures.append(exc)

    job_id = start_rebuild(base, reason="t", enqueue=lambda j: threading.Thread(target=run, args=(j,)).start())
    return job_id, failures


def test_a_rebuild_rides_out_an_engine_outage(engine_url: str, redis_url: str) -> None:
    """The engine goes away for a few seconds in the middle of a rebuild's copy: the job waits
    and goes on (the gate is kept alive meanwhile), instead of failing and starting over."""
    proxy = TcpProxy(engine_url)
    events = five_thousand_events()[:1000]
    with running_service(engine_url, redis_url, rebuild_page_size=20) as svc:
        svc.send(events)
        svc.wait_searchable()
        base = svc.services
        job_id, failures = start_rebuild_behind(svc, proxy)
        try:
            deadline = time.monotonic() + 60
            while (records.get(base.redis, base.keys, job_id) or {}).get("done", 0) < 100:
                assert time.monotonic() < deadline, "the copy did not start"
                time.sleep(0.01)
            proxy.down()
            time.sleep(4)
            mid = records.get(base.redis, base.keys, job_id)
            assert mid is not None and mid["state"] == "running", mid
            proxy.up()
            done = svc.wait_job(job_id, timeout=120)
        finally:
            proxy.down()
        assert done["state"] == "succeeded" and not failures, (done, failures)
        assert len(contents(svc)) == 1000 and svc.status()["indexVersion"] == 2


def test_a_rebuild_that_starts_while_the_engine_is_away_waits_for_it(engine_url: str, redis_url: str) -> None:
    """Under load an engine call can time out before the copy has even begun (seen with 100,000
    listings): creating the target, reading the registry, all wait and retry like the copy."""
    proxy = TcpProxy(engine_url)
    with running_service(engine_url, redis_url) as svc:
        svc.send(five_thousand_events()[:200])
        svc.wait_searchable()
        base = svc.services
        proxy.down()
        try:
            job_id, failures = start_rebuild_behind(svc, proxy)
            time.sleep(4)
            mid = records.get(base.redis, base.keys, job_id)
            assert mid is not None and mid["state"] == "running" and mid["phase"] == "starting", mid
            proxy.up()
            done = svc.wait_job(job_id, timeout=120)
        finally:
            proxy.down()
        assert done["state"] == "succeeded" and not failures, (done, failures)
        assert len(contents(svc)) == 200 and svc.status()["indexVersion"] == 2


def test_an_alias_swap_that_already_happened_is_not_an_error(engine_url: str, redis_url: str) -> None:
    """A swap whose answer timed out may have happened; its retry must see that, not fail.
    (OpenSearch answers 404 aliases_not_found to the repeated remove; osmem-server accepts it.)"""
    from indexer.index.lifecycle import create_index
    from indexer.index.live import live_index, live_index_name

    with running_service(engine_url, redis_url) as svc:
        base = svc.services
        live = live_index(base.engine, base.names)
        assert live is not None
        target = create_index(base.engine, base.settings, base.names, live.version + 1, live.schemas, live=False)
        _swap(base, live.name, target)
        _swap(base, live.name, target)  # the retry of a swap that went through
        assert live_index_name(base.engine, base.names) == target
