"""The Sharetribe sync against the local stand-in: paging, the full re-sync, a 429 storm, a
retention gap, and the reconciliation job."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from typing import Any

import httpx

from indexer import jobs, stats
from indexer.sharetribe.checkpoint import POLLED_AT, load_checkpoint
from indexer.sharetribe.reconcile import Reconciler, start_reconcile
from listing_search.runner import cli_command, free_port
from tests.sharetribe_standin import CLIENT_ID, CLIENT_SECRET, Marketplace
from tests.support import OPERATOR_TOKEN, Service, listing_event, new_id, running_service, service_env
from tests.sync_support import assert_index_matches, standin, sync_settings, synced


def test_first_sync_resyncs_pages_and_follows_events(engine_url: str, redis_url: str) -> None:
    # One page per query window: listings/query must continue with createdAtEnd past the limit.
    with synced(engine_url, redis_url, standin_options={"pagination_limit": 1}) as (stand, svc, driver):
        market = stand.market
        rng = random.Random(11)
        market.random_changes(rng, 1500)
        first = driver.poll()
        # No checkpoint: a full re-sync starts, and events are read from just before it.
        assert first.resync_job is not None
        # A full page is followed at once by the next: every event (~1,500) in one tick.
        count = len(market.events)
        assert count > 1400 and first.events == count and first.pages == count // 100 + 1, first
        market.random_changes(rng, 300)  # while the re-sync may still run
        driver.settle()
        assert_index_matches(svc, market)

        job = jobs.get(svc.services.redis, svc.services.keys, first.resync_job)
        assert job is not None and job["kind"] == "resync" and job["state"] == "succeeded", job
        assert job["sourceListings"] > 100 and job["apiRequests"] > 0
        windows = [p for p in stand.requests_to("listings/query") if "createdAtEnd" in p]
        assert windows, "the pagination limit was never worked around"
        assert all(int(p["page"]) == 1 for p in stand.requests_to("listings/query"))

        # Then it follows the events: the checkpoint is the newest sequenceId.
        before = len(market.events)
        market.random_changes(rng, 250)
        report = driver.poll()
        fresh = len(market.events) - before
        assert report.events == fresh and report.pages == fresh // 100 + 1 and report.resync_job is None
        assert load_checkpoint(svc.services).sequence_id == market.seq
        driver.settle()
        assert_index_matches(svc, market)
        status = svc.status()["sync"]
        assert status["configured"] and status["checkpoint"]["sequenceId"] == market.seq
        assert status["resync"]["state"] == "succeeded" and status["lastError"] is None


def test_a_429_storm_is_ridden_out_and_a_long_one_moves_nothing(engine_url: str, redis_url: str) -> None:
    with synced(engine_url, redis_url, sync_give_up_seconds=5.0) as (stand, svc, driver):
        market = stand.market
        rng = random.Random(5)
        market.random_changes(rng, 200)
        driver.settle()
        assert_index_matches(svc, market)

        stand.faults = [429] * 8 + [503, 502] + [429] * 4
        before = len(market.events)
        market.random_changes(rng, 250)
        report = driver.poll()
        assert report.stopped_by is None and report.events == len(market.events) - before, report
        assert stand.faults == [] and driver.api.stats.throttled >= 12
        driver.settle()
        assert_index_matches(svc, market)

        # A storm longer than the sync waits: it gives up, the checkpoint stays put and
        # status says why; the next tick after the storm catches up.
        before = load_checkpoint(svc.services).sequence_id
        stand.faults = [429] * 100_000
        market.random_changes(rng, 80)
        report = driver.poll()
        assert report.stopped_by is not None and "gave up" in report.stopped_by
        assert load_checkpoint(svc.services).sequence_id == before
        sync = svc.status()["sync"]
        assert sync["lastError"] and "429" in sync["lastError"]
        stand.faults = []
        driver.settle()
        assert_index_matches(svc, market)
        assert svc.status()["sync"]["lastError"] is None


def test_a_retention_gap_triggers_a_full_resync(engine_url: str, redis_url: str) -> None:
    with synced(engine_url, redis_url, sync_clock_margin_seconds=0) as (stand, svc, driver):
        market = stand.market
        rng = random.Random(23)
        market.random_changes(rng, 300)
        # No clock margin: after the re-sync only events from its start on are replayed, so the
        # gap's changes can only come from the snapshot.
        driver.settle()
        assert_index_matches(svc, market)
        indexed_before = set(market.listings)

        # The sync is down longer than the retention; the marketplace changes, and the
        # events of that time are gone when it comes back.
        market.random_changes(rng, 600)
        market.forget_events_through(market.seq)
        deleted_in_gap = indexed_before - set(market.listings)
        assert deleted_in_gap, "the gap should delete some listings"
        old = int(time.time() * 1000) - 100 * 86_400_000
        svc.services.redis.hset(svc.services.keys.sync, POLLED_AT, old)

        report = driver.poll()
        assert report.resync_job is not None
        job = jobs.get(svc.services.redis, svc.services.keys, report.resync_job)
        assert job is not None and "retention" in job["reason"]
        market.random_changes(rng, 100)  # events after the gap arrive as usual
        driver.settle()
        assert_index_matches(svc, market)
        visible = svc.id_set()
        assert not visible & deleted_in_gap


def test_reconciliation_finds_and_repairs_drift(engine_url: str, redis_url: str) -> None:
    with synced(engine_url, redis_url) as (stand, svc, driver):
        market = stand.market
        rng = random.Random(3)
        market.random_changes(rng, 300)
        driver.settle()
        assert_index_matches(svc, market)
        services = svc.services
        engine, alias = services.engine, services.names.alias
        published = sorted(lid for lid, r in market.listings.items() if r["attributes"]["state"] == "published")
        # Drift of three kinds: a listing whose events were missed, a document with a
        # wrong price, and a listing the marketplace never had (an event from elsewhere).
        lost = market.create_listing(title="missed")
        services.redis.hset(services.keys.sync, "sequenceId", market.seq)
        wrong = published[1]
        doc = engine.get(index=alias, id=wrong)
        engine.index(
            index=alias,
            id=wrong,
            body={**doc["_source"], "priceAmount": 1},
            params={"version": doc["_version"], "version_type": "external_gte", "refresh": "true"},
        )
        stray = new_id()
        accepted = int(services.redis.hget(services.keys.stats, stats.ACCEPTED_SEQ) or 0)
        svc.send([listing_event(accepted + 1, stray, event_type="listing/created")])
        driver.settle()
        assert stray in svc.id_set() and lost not in svc.id_set()

        job_id = start_reconcile(services, reason="test", repair=True)
        result = Reconciler(services, job_id).run()
        assert result["missing"] == 1 and result["gone"] == 1 and result["drifted"] == 1, result
        assert result["repairsQueued"] == 3 and result["checked"] == len(market.listings)
        rec = jobs.get(services.redis, services.keys, job_id)
        assert rec is not None and rec["state"] == "succeeded"
        kinds = {e["id"]: (e["kind"], e["fields"]) for e in rec["examples"]}
        assert kinds[lost][0] == "missing" and kinds[stray][0] == "gone"
        assert kinds[wrong] == ("drifted", ["priceAmount"])

        svc.wait_searchable()
        assert_index_matches(svc, market)
        again = Reconciler(services, start_reconcile(services, reason="test", repair=False), repair=False).run()
        assert again["inSync"] == again["checked"] == len(market.listings)
        assert again["drifted"] == again["missing"] == again["gone"] == 0


def jobs_process(svc: Service, engine_url: str, standin_url: str) -> subprocess.Popen[str]:
    """`listing-search jobs --beat`, as deployed: beat ticks the sync, the worker runs the jobs."""
    env = service_env(
        svc,
        engine_url,
        LISTING_SEARCH_SHARETRIBE_BASE_URL=standin_url,
        LISTING_SEARCH_SHARETRIBE_CLIENT_ID=CLIENT_ID,
        LISTING_SEARCH_SHARETRIBE_CLIENT_SECRET=CLIENT_SECRET,
        LISTING_SEARCH_SYNC_INTERVAL_SECONDS="0.5",
    )
    # A session of its own: `--beat` runs beat in a child process, and the whole group must go.
    return subprocess.Popen(
        [*cli_command(), "jobs", "--beat"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_matching(svc: Service, market: Marketplace, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "jobs process died"
        status = svc.status()
        caught_up = status["sync"]["checkpoint"]["sequenceId"] == market.seq
        resync = status["sync"]["resync"]
        if caught_up and (resync is None or resync["state"] == "succeeded") and status["pending"] == 0:
            try:
                assert_index_matches(svc, market)
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
        assert time.monotonic() < deadline, f"not in sync after {timeout}s: {status['sync']}"
        time.sleep(0.2)


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever is left of it (beat's child too)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def crash(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL the whole group at once, as a container or host crash would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_celery_beat_syncs_and_a_restart_continues_from_the_checkpoint(engine_url: str, redis_url: str) -> None:
    with standin() as (stand, url):
        market = stand.market
        rng = random.Random(41)
        market.random_changes(rng, 400)
        with running_service(engine_url, redis_url, **sync_settings(url)) as svc:
            first = jobs_process(svc, engine_url, url)
            try:
                wait_matching(svc, market, first)  # no checkpoint: a full re-sync, then events
            finally:
                crash(first)  # no goodbye: whatever it held is the checkpoint's problem
            checkpoint = load_checkpoint(svc.services).sequence_id
            assert checkpoint == market.seq
            resyncs = len(stand.requests_to("listings/query"))
            seen = len(stand.requests_to("events/query"))

            market.random_changes(rng, 300)  # while nothing polls
            second = jobs_process(svc, engine_url, url)
            try:
                wait_matching(svc, market, second)
                later = stand.requests_to("events/query")[seen:]
                assert later[0] == {"startAfterSequenceId": str(checkpoint)}
                assert len(stand.requests_to("listings/query")) == resyncs  # no second re-sync

                # The operator's side (API and CLI) runs its jobs on the same job worker.
                job_id = svc.operator.post("/v1/jobs/reconcile", params={"repair": "false"}).json()["id"]
                done = svc.wait_job(job_id)
                assert done["state"] == "succeeded", done
                assert done["inSync"] == done["checked"] == len(market.listings)
                market.random_changes(rng, 100)
                cli = subprocess.run(
                    [*cli_command(), "resync", "--url", svc.url, "--token", OPERATOR_TOKEN],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert cli.returncode == 0 and " done: " in cli.stdout, cli.stderr
                assert len(stand.requests_to("listings/query")) > resyncs
                wait_matching(svc, market, second)
            finally:
                stop(second)


def test_resync_and_reconcile_need_the_sync_configured(service: Service) -> None:
    for path in ("/v1/jobs/resync", "/v1/jobs/reconcile"):
        resp = service.operator.post(path)
        assert resp.status_code == 409, resp.text
        assert "not configured" in resp.json()["errors"][0]["details"]
        assert service.public.post(path).status_code == 401
    assert service.status()["sync"]["configured"] is False


def test_a_scan_misses_no_listing_when_others_are_deleted_meanwhile(engine_url: str, redis_url: str) -> None:
    """Offset paging would skip a listing whenever one before it is deleted mid-scan, and a
    skipped listing looks deleted; the scan pages by createdAt instead."""
    with synced(engine_url, redis_url) as (stand, svc, driver):
        market = stand.market
        for i in range(250):
            market.create_listing(title=f"listing {i}")
        driver.settle()
        on_first_page = sorted(market.listings, key=lambda lid: market.listings[lid]["attributes"]["createdAt"])
        victim = on_first_page[-5]  # among the newest hundred: on the first page

        def delete_once(path: str, params: dict[str, str]) -> None:
            if path == "listings/query" and victim in market.listings:
                market.delete_listing(victim)

        stand.after_request = delete_once
        services = svc.services
        result = Reconciler(services, start_reconcile(services, reason="t", repair=False), repair=False).run()
        assert victim not in market.listings
        assert result["checked"] == 250 and result["gone"] == 0 and result["inSync"] == 250, result


def test_dev_follows_a_marketplace_when_the_sync_is_configured(engine_url: str, redis_url: str) -> None:
    """`listing-search dev` has no beat: it polls on a timer, and loads no demo data."""
    with standin() as (stand, url):
        market = stand.market
        rng = random.Random(2)
        market.random_changes(rng, 150)
        tag = new_id()[:8]
        port = free_port()
        env = {
            **os.environ,
            "OPENSEARCH_URL": engine_url,
            "REDIS_URL": redis_url,
            "LISTING_SEARCH_INDEX_PREFIX": f"t-dev-{tag}",
            "LISTING_SEARCH_REDIS_PREFIX": f"lstest:dev-{tag}:",
            "LISTING_SEARCH_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "LISTING_SEARCH_REPLICAS": "0",
            "LISTING_SEARCH_SHARETRIBE_BASE_URL": url,
            "LISTING_SEARCH_SHARETRIBE_CLIENT_ID": CLIENT_ID,
            "LISTING_SEARCH_SHARETRIBE_CLIENT_SECRET": CLIENT_SECRET,
            "LISTING_SEARCH_SYNC_INTERVAL_SECONDS": "0.3",
        }
        proc = subprocess.Popen(
            [*cli_command(), "dev", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            published = {lid for lid, r in market.listings.items() if r["attributes"]["state"] == "published"}
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                try:
                    body = httpx.get(f"{base}/v1/api/listings/query", params={"perPage": 100}, timeout=5).json()
                    status = httpx.get(
                        f"{base}/v1/status", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=5
                    ).json()
                    seen = {d["id"] for d in body["data"]}
                    if seen == published and status["sync"]["checkpoint"]["sequenceId"] == market.seq:
                        break
                except (httpx.HTTPError, KeyError):
                    pass
                assert time.monotonic() < deadline, "dev did not follow the marketplace"
                time.sleep(0.3)
            assert len(published) < 100 and status["documents"] >= len(published)
        finally:
            stop(proc)
            import redis as redis_lib
            from opensearchpy import OpenSearch

            client = redis_lib.Redis.from_url(redis_url)
            keys = list(client.scan_iter(match=f"lstest:dev-{tag}:*"))
            if keys:
                client.delete(*keys)
            OpenSearch(hosts=[engine_url]).indices.delete(index=f"t-dev-{tag}*", params={"ignore_unavailable": "true"})
