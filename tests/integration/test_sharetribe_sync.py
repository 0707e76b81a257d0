"""The Sharetribe sync against the local stand-in (tests/support/sharetribe_standin.py, written from
Sharetribe's references): paging, the full re-sync, a 429 storm, a retention gap, the
reconciliation job, stock with reservations, bookings reaching their listing through their
transaction in any order, no tombstone on absence alone, and polite polling.

Every comparison goes through the public search API and is held to tests/support/flex_oracle.py, which
computes what Flex itself would show from the stand-in's records.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from indexer.jobs import records
from indexer.pipeline import stats
from indexer.sharetribe.checkpoint import POLLED_AT, load_checkpoint
from indexer.sharetribe.reconcile import Reconciler, start_reconcile
from indexer.sharetribe.resync import start_resync
from infra.clients import opensearch_client
from infra.settings import Settings
from listing_search.runner import cli_command
from tests.support import flex_oracle
from tests.support.events import listing_event, new_id
from tests.support.processes import crash, dev_process, stop
from tests.support.service import OPERATOR_TOKEN, Service, running_service, service_env
from tests.support.sharetribe_standin import CLIENT_ID, CLIENT_SECRET, TRANSIT, Marketplace, RateLimit, StandIn, ts
from tests.support.sync import (
    SYNC_FAMILIES,
    assert_availability_as_flex,
    assert_index_matches,
    assert_stock_as_flex,
    assert_visible_as_flex,
    expected_checkpoint,
    standin,
    sync_settings,
    synced,
    wait_idle,
)

DAY_PLAN = {
    "type": "availability-plan/day",
    "entries": [{"dayOfWeek": d, "seats": 2} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")],
}


def day(offset: int) -> str:
    """Midnight UTC `offset` days from today, in Flex's format."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return ts(today + timedelta(days=offset))


# ---- the stand-in itself ------------------------------------------------------------------------


def test_the_standin_answers_as_the_references_say() -> None:
    """The stand-in's own behaviour, checked against the references it cites (no service here)."""
    market = Marketplace()
    room = market.create_listing(title="room", availabilityPlan=DAY_PLAN)
    shoe = market.create_listing(title="shoe")
    market.adjust_stock(shoe, 5)
    tx, booking = market.initiate_booking(room, day(1), day(3), seats=1, accept=True)
    purchase, reservation = market.initiate_purchase(shoe, 1)
    gone = market.create_listing(title="to delete")
    market.initiate_booking(gone, day(1), day(2))
    market.delete_listing(gone)
    market.delete_transaction(tx)

    types = [e["attributes"]["eventType"] for e in market.events]
    # A transition's booking events come before the transaction's own event (references/events).
    assert types[3:6] == ["booking/created", "booking/updated", "transaction/initiated"]
    # A pending reservation takes its stock as an adjustment, in the same transition (stock).
    assert types[6:9] == ["stockReservation/created", "stockAdjustment/created", "transaction/initiated"]
    by_type = {e["attributes"]["eventType"]: e["attributes"] for e in market.events}
    created = by_type["booking/created"]["resource"]
    assert set(created["relationships"]) == {"transaction"}
    assert set(created["attributes"]) == {"seats", "start", "end", "displayStart", "displayEnd", "state"}
    initiated = next(e["attributes"]["resource"] for e in market.events if e["attributes"]["resourceId"] == tx)
    assert initiated["relationships"]["listing"]["data"]["id"] == room
    assert initiated["relationships"]["booking"]["data"]["id"] == booking
    # Listing events carry no stock quantity, only the stock's id.
    for e in market.events:
        if e["attributes"]["resourceType"] == "listing" and e["attributes"]["resource"]:
            stock_ref = e["attributes"]["resource"]["relationships"]["currentStock"]["data"]
            assert stock_ref is None or set(stock_ref) == {"id", "type"}
    # Deletions: no resource, previous values of the resource's shape with some nulls.
    deleted = by_type["booking/deleted"]
    assert deleted["resource"] is None
    assert set(deleted["previousValues"]["attributes"].values()) == {None}
    assert deleted["previousValues"]["relationships"]["transaction"]["data"]["id"] == tx

    with standin(market) as (stand, url), httpx.Client(base_url=url, timeout=10) as http:
        form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "client_credentials"}
        token = http.post("/v1/auth/token", data={**form, "scope": "integ"}).json()["access_token"]
        auth = {"Authorization": f"bearer {token}"}
        api = "/v1/integration_api"

        def get(path: str, accept: str | None = "application/json", **params: Any) -> httpx.Response:
            headers = {**auth, **({"Accept": accept} if accept else {})}
            return http.get(f"{api}/{path}", params=params, headers=headers)

        # JSON only when asked for; Transit otherwise.
        assert get("events/query").headers["content-type"].startswith("application/json")
        for accept in (None, "*/*", "application/transit+json"):
            resp = get("events/query", accept)
            assert resp.headers["content-type"] == TRANSIT and resp.json()[0] == "^ ", accept
        # eventTypes: full types or resource types; no wildcards; unknown parameters refused.
        only = get("events/query", eventTypes="booking,transaction/initiated").json()["data"]
        assert {e["attributes"]["eventType"] for e in only} == {
            "booking/created",
            "booking/updated",
            "booking/deleted",
            "transaction/initiated",
        }
        assert get("events/query", eventTypes="listing/*").status_code == 400
        assert get("events/query", eventType="listing/created").status_code == 400
        assert get("events/query", startAfterSequenceId=market.seq - 2).json()["meta"] == {"perPage": 100}
        # Stock only through include=currentStock; reservations already in it.
        shown = get("listings/show", id=shoe, include="currentStock").json()
        assert shown["included"][0]["attributes"]["quantity"] == 4
        assert "relationships" not in get("listings/show", id=shoe).json()["data"]
        # Deleted listings: 404, but a transaction still names them (deleted: true).
        assert get("listings/show", id=gone).status_code == 404
        page = get("listings/query", states="published").json()
        assert [d["id"] for d in page["data"]] == [shoe, room]  # newest first
        assert page["meta"]["totalItems"] == 2 and page["meta"]["paginationLimit"] == stand.pagination_limit
        gone_tx = next(t for t in market.transactions.values() if t["relationships"]["listing"]["data"]["id"] == gone)
        shown_tx = get("transactions/show", id=gone_tx["id"], include="listing,booking").json()
        assert {"id": gone, "type": "listing", "attributes": {"deleted": True}} in shown_tx["included"]
        assert get("transactions/show", id=tx).status_code == 404  # deleted
        full = get("transactions/show", id=purchase, include="stockReservation").json()
        assert full["data"]["relationships"]["stockReservation"]["data"]["id"] == reservation
        assert "listing" not in full["data"]["relationships"]  # not asked for
        # A rate limit answers 429, with no Retry-After (none is documented).
        stand.rate_limit = RateLimit(initial=1, maximum=1, per_second=0.001)
        assert get("marketplace/show").status_code == 200
        throttled = get("marketplace/show")
        assert throttled.status_code == 429 and "retry-after" not in throttled.headers
        assert stand.logged("marketplace/show")[-1].accept == "application/json"


# ---- the sync ---------------------------------------------------------------------------------


def test_first_sync_resyncs_pages_and_follows_events(engine_url: str, redis_url: str) -> None:
    # One page per query window: listings/query must continue with createdAtEnd past the limit.
    with synced(engine_url, redis_url, standin_options={"pagination_limit": 1}) as (stand, svc, driver):
        market = stand.market
        rng = random.Random(11)
        # More listings than one page of listings/query (100) before the first poll, whatever the
        # random changes delete: the re-sync must then need createdAtEnd windows to see them all.
        for n in range(110):
            market.create_listing(title=f"seed {n}")
        market.random_changes(rng, 1000)
        assert len(market.listings) > 100
        first = driver.poll()
        # No checkpoint: a full re-sync starts, and events are read from just before it.
        assert first.resync_job is not None
        # A full page is followed at once by the next: every event it asks for in one tick.
        count = len(stand.matching_events(stand.requests_to("events/query")[0]))
        assert count > 1000 and first.events == count and first.pages == count // 100 + 1, (count, first)
        market.random_changes(rng, 200)  # while the re-sync may still run
        driver.settle()
        assert_index_matches(svc, market)

        job = records.get(svc.services.redis, svc.services.keys, first.resync_job)
        assert job is not None and job["kind"] == "resync" and job["state"] == "succeeded", job
        assert job["sourceListings"] > 100 and job["apiRequests"] > 0
        windows = [p for p in stand.requests_to("listings/query") if "createdAtEnd" in p]
        assert windows, "the pagination limit was never worked around"
        assert all(int(p.get("page", "1")) == 1 for p in stand.requests_to("listings/query"))

        # Then it follows the events: the checkpoint is the newest sequenceId it asked for.
        before = market.seq
        market.random_changes(rng, 200)
        report = driver.poll()
        fresh = [
            e
            for e in stand.matching_events(stand.requests_to("events/query")[-1])
            if e["attributes"]["sequenceId"] > before
        ]
        assert report.events == len(fresh) and report.pages == len(fresh) // 100 + 1 and report.resync_job is None
        assert load_checkpoint(svc.services).sequence_id == expected_checkpoint(stand)
        driver.settle()
        assert_index_matches(svc, market)
        status = svc.status()
        sync = status["sync"]
        assert sync["configured"] and sync["checkpoint"]["sequenceId"] == expected_checkpoint(stand)
        assert sync["resync"]["state"] == "succeeded" and sync["lastError"] is None
        assert status["deadLetters"] == 0 and status["waitingBookings"] == 0


def test_a_429_storm_is_ridden_out_and_a_long_one_moves_nothing(engine_url: str, redis_url: str) -> None:
    with synced(engine_url, redis_url, sync_give_up_seconds=5.0) as (stand, svc, driver):
        market = stand.market
        rng = random.Random(5)
        market.random_changes(rng, 200)
        driver.settle()
        assert_index_matches(svc, market)

        # Injected 429s (some with Retry-After, as proxies send) and 5xx.
        stand.faults = [429] * 8 + [503, 502] + [429] * 4
        before = market.seq
        market.random_changes(rng, 250)
        report = driver.poll()
        fresh = [
            e
            for e in stand.matching_events(stand.requests_to("events/query")[-1])
            if e["attributes"]["sequenceId"] > before
        ]
        assert report.stopped_by is None and report.events == len(fresh), report
        assert stand.faults == [] and driver.api.stats.throttled >= 12
        driver.settle()
        assert_index_matches(svc, market)

        # Flex's own rate limit: 429 with no Retry-After at all (concepts/rate-limiting).
        stand.retry_after = None
        stand.rate_limit = RateLimit(initial=3, maximum=3, per_second=30)
        market.random_changes(rng, 600)
        report = driver.poll()
        assert report.stopped_by is None, report
        stand.rate_limit = None
        driver.settle()
        assert_index_matches(svc, market)

        # A storm longer than the sync waits: it gives up, the checkpoint stays put and
        # status says why; the next tick after the storm catches up.
        before_checkpoint = load_checkpoint(svc.services).sequence_id
        stand.faults = [429] * 100_000
        market.random_changes(rng, 80)
        report = driver.poll()
        assert report.stopped_by is not None and "gave up" in report.stopped_by
        assert load_checkpoint(svc.services).sequence_id == before_checkpoint
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
        job = records.get(svc.services.redis, svc.services.keys, report.resync_job)
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
        published = sorted(flex_oracle.published(market))
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
        rec = records.get(services.redis, services.keys, job_id)
        assert rec is not None and rec["state"] == "succeeded"
        kinds = {e["id"]: (e["kind"], e["fields"]) for e in rec["examples"]}
        assert kinds[lost][0] == "missing" and kinds[stray][0] == "gone"
        assert kinds[wrong] == ("drifted", ["priceAmount"])

        svc.wait_searchable()
        assert_index_matches(svc, market)
        again = Reconciler(services, start_reconcile(services, reason="test", repair=False), repair=False).run()
        assert again["inSync"] == again["checked"] == len(market.listings)
        assert again["drifted"] == again["missing"] == again["gone"] == 0


def test_stock_counts_a_reservation_once_through_its_adjustments(engine_url: str, redis_url: str) -> None:
    """references/stock: a reservation's effect on stock is recorded as adjustments as it moves
    through its states; `currentStock` and the adjustments already include it. Admin updates and
    deletions of adjustments (references/events) change it too, including of adjustments that
    only the re-sync's `currentStock` knew about."""
    with synced(engine_url, redis_url) as (stand, svc, driver):
        market = stand.market
        shoe = market.create_listing(title="shoe", publicData={"listingType": "product"})
        hat = market.create_listing(title="hat", publicData={"listingType": "product"})
        initial = market.adjust_stock(shoe, 5)
        market.adjust_stock(hat, 3)
        hat_extra = market.adjust_stock(hat, 2)
        first = market.reserve(shoe, 1, "pending")  # before the first sync: only its snapshot has it

        def shows(lid: str, quantity: int) -> None:
            driver.settle()
            assert flex_oracle.stock(market)[lid] == quantity
            assert lid in svc.id_set(ids=lid, minStock=quantity), f"{lid} should show stock {quantity}"
            assert lid not in svc.id_set(ids=lid, minStock=quantity + 1), f"{lid} shows more than {quantity}"
            assert_stock_as_flex(svc, market)

        shows(shoe, 4)  # 5 in stock, one reservation of 1: 4, not 3
        market.set_reservation_state(first, "accepted")  # pending -> accepted: no adjustment
        shows(shoe, 4)
        second = market.reserve(shoe, 2, "proposed")  # proposed: takes nothing yet
        shows(shoe, 4)
        market.set_reservation_state(second, "accepted")  # proposed -> accepted: -2
        shows(shoe, 2)
        third = market.reserve(shoe, 1, "pending")
        market.set_reservation_state(third, "declined")  # pending -> declined: -1 then +1
        shows(shoe, 2)
        market.set_reservation_state(first, "cancelled")  # accepted -> cancelled: +1
        shows(shoe, 3)
        market.reserve(hat, 3, "accepted")
        shows(hat, 2)
        # Rare admin actions on adjustments (references/events "Supported event types").
        extra = market.adjust_stock(shoe, 3)
        shows(shoe, 6)
        market.update_adjustment(extra, 4)
        shows(shoe, 7)
        market.delete_adjustment(extra)
        shows(shoe, 3)
        # The same on adjustments made before the first sync, which the index knows only as part
        # of the re-sync's currentStock.
        market.update_adjustment(initial, 6)
        shows(shoe, 4)
        market.delete_adjustment(hat_extra)
        shows(hat, 0)

        # A full re-sync reads currentStock, which has every reservation in it already.
        start_resync(svc.services, enqueue=driver.enqueue, reason="test")
        shows(shoe, 4)
        shows(hat, 0)
        assert svc.status()["deadLetters"] == 0


def test_the_poller_brings_a_booking_to_its_listing_in_flex_order(engine_url: str, redis_url: str) -> None:
    """Flex emits booking/created before the transaction event that names the listing; a page
    can end between them. The booking waits (counted in status, never dead-lettered) and is
    applied once its transaction is known."""
    with synced(engine_url, redis_url, sync_max_pages_per_run=1) as (stand, svc, driver):
        market = stand.market
        room = market.create_listing(title="room", availabilityPlan=DAY_PLAN)
        driver.settle()
        # 99 changes, then the booking: booking/created ends the next page, its transaction's
        # event opens the one after.
        for i in range(99):
            market.update_listing(room, title=f"room {i}")
        tx, booking = market.initiate_booking(room, day(2), day(4), seats=2)
        report = driver.poll()
        assert report.events == 100, report
        status = wait_idle(svc)
        asked_flex = any(p.get("id") == tx for p in stand.requests_to("transactions/show"))
        assert status["deadLetters"] == 0, status
        assert status["waitingBookings"] >= 1 or asked_flex, status
        driver.settle()
        assert room not in svc.id_set(start=day(2)[:10], end=day(3)[:10])  # both seats booked
        assert_index_matches(svc, market)

        # A later transition: booking/updated, then transaction/transitioned, again across pages.
        seq = market.seq
        for i in range(99):
            market.update_listing(room, title=f"room again {i}")
        market.set_booking_state(booking, "declined")
        updated = market.events[-2]["attributes"]
        assert (updated["eventType"], updated["sequenceId"]) == ("booking/updated", seq + 100)
        driver.poll()
        assert wait_idle(svc)["deadLetters"] == 0
        driver.settle()
        assert room in svc.id_set(start=day(2)[:10], end=day(3)[:10])
        assert_index_matches(svc, market)
        final = svc.status()
        assert final["deadLetters"] == 0 and final["waitingBookings"] == 0


def _transaction_process_marketplace() -> Marketplace:
    """Day-plan listings with bookings through every documented booking transition."""
    market = Marketplace()
    rooms = [market.create_listing(title=f"room {i}", availabilityPlan=DAY_PLAN) for i in range(4)]
    market.add_exception(rooms[0], day(1), day(3), 3)
    market.add_exception(rooms[1], day(2), day(3), 1)
    market.book(rooms[0], day(1), day(3), 2, "accepted")  # created + updated + initiated
    market.book(rooms[1], day(0), day(5), 1, "pending")
    proposed = market.book(rooms[2], day(3), day(6), 2, "proposed")  # holds nothing
    market.set_booking_state(proposed, "accepted")  # until accepted
    declined = market.book(rooms[2], day(0), day(2), 1, "pending")
    market.set_booking_state(declined, "declined")
    cancelled = market.book(rooms[3], day(1), day(4), 2, "accepted")
    market.set_booking_state(cancelled, "cancelled")
    moved = market.book(rooms[3], day(5), day(7), 1, "accepted")
    market.reschedule_booking(moved, day(6), day(8), 2)
    tx_deleted, _ = market.initiate_booking(rooms[1], day(6), day(8), 1, accept=True)
    market.delete_transaction(tx_deleted)
    return market


def test_post_events_brings_bookings_to_their_listing_in_any_order(engine_url: str, redis_url: str) -> None:
    """POST /v1/events, shuffled and with duplicates: bookings whose transaction is not known
    wait (counted, never dead-lettered), and land once the transaction events come."""
    market = _transaction_process_marketplace()
    rng = random.Random(7)
    tx_events = [e for e in market.events if e["attributes"]["resourceType"] == "transaction"]
    others = [e for e in market.events if e["attributes"]["resourceType"] != "transaction"]
    with running_service(engine_url, redis_url) as svc:
        first = others + rng.sample(others, len(others) // 2)
        rng.shuffle(first)
        for start in range(0, len(first), 7):
            svc.send(first[start : start + 7])
        status = wait_idle(svc)
        bookings = {e["attributes"]["resourceId"] for e in others if e["attributes"]["resourceType"] == "booking"}
        assert status["waitingBookings"] > 0, status
        assert status["deadLetters"] == 0, status
        time.sleep(1.0)  # waiting is not failing: nothing is dead-lettered meanwhile
        status = svc.status()
        assert status["waitingBookings"] > 0 and status["deadLetters"] == 0, status
        assert len(bookings) >= 6

        second = tx_events + rng.sample(tx_events, len(tx_events) // 2)
        rng.shuffle(second)
        for start in range(0, len(second), 5):
            svc.send(second[start : start + 5])
        status = svc.wait_searchable()
        assert status["waitingBookings"] == 0 and status["deadLetters"] == 0, status
        assert_visible_as_flex(svc, market)
        assert_availability_as_flex(svc, market)


def test_a_waiting_booking_is_resolved_through_transactions_show(engine_url: str, redis_url: str) -> None:
    """While Flex's event log lags behind its booking/created, the sync can still find the
    booking's listing: transactions/show names it."""
    with synced(engine_url, redis_url) as (stand, svc, driver):
        market = stand.market
        room = market.create_listing(title="room", availabilityPlan=DAY_PLAN)
        driver.settle()
        tx, _ = market.initiate_booking(room, day(1), day(3), seats=2)
        stand.events_visible_through = market.seq - 1  # booking/created is out, its transaction's event not
        deadline = time.monotonic() + 20
        while True:
            driver.poll()
            status = wait_idle(svc)
            asked = any(p.get("id") == tx for p in stand.requests_to("transactions/show"))
            if asked and status["waitingBookings"] == 0:
                break
            assert status["deadLetters"] == 0, status
            assert time.monotonic() < deadline, f"the booking still waits: {status}, asked Flex: {asked}"
            time.sleep(0.2)
        svc.wait_searchable()
        assert room not in svc.id_set(start=day(1)[:10], end=day(2)[:10])
        assert_availability_as_flex(svc, market)
        stand.events_visible_through = None
        driver.settle()
        assert_index_matches(svc, market)
        assert svc.status()["deadLetters"] == 0


def test_no_listing_is_tombstoned_on_absence_alone(engine_url: str, redis_url: str) -> None:
    """A scan that misses a listing (a flaky listings/query page) proves nothing; only
    listings/show answering 404 does (concepts-listings/listings-overview "Deleted")."""
    with synced(engine_url, redis_url) as (stand, svc, driver):
        market = stand.market
        ids = [market.create_listing(title=f"listing {i}") for i in range(30)]
        driver.settle()
        flaky, gone = ids[3], ids[7]
        stand.events_visible_through = market.seq  # its deletion event is not out yet: only a scan can tell
        market.delete_listing(gone)
        stand.hidden_from_queries = {flaky}
        services = svc.services

        result = Reconciler(services, start_reconcile(services, reason="test", repair=True)).run()
        svc.wait_searchable()
        visible = svc.id_set()
        assert flaky in visible, result
        assert gone not in visible, result
        assert any(p.get("id") == flaky for p in stand.requests_to("listings/show"))
        assert result["gone"] == 1, result

        # The same for a full re-sync.
        start_resync(services, enqueue=driver.enqueue, reason="test")
        driver.settle()
        assert flaky in svc.id_set() and gone not in svc.id_set()

        stand.hidden_from_queries = set()
        stand.events_visible_through = None
        driver.settle()
        assert_index_matches(svc, market)


def test_polling_is_polite(engine_url: str, redis_url: str) -> None:
    """Accept: application/json on every request; events/query asks only for the event types
    search needs (eventTypes); the client-side rate limit keeps within Flex's; beat polls an idle
    marketplace every 10 s at the most often (how-to/reacting-to-events "Recommended polling
    interval": "not ... smaller than 10-30 seconds")."""
    with synced(engine_url, redis_url, sync_rate_limit_per_second=40.0, sync_rate_limit_burst=10) as (
        stand,
        svc,
        driver,
    ):
        # Two tokens more than the client keeps: arrival jitter is not the client's fault.
        stand.rate_limit = RateLimit(initial=12, maximum=12, per_second=40.0)
        market = stand.market
        market.random_changes(random.Random(17), 200)
        driver.settle()
        reconcile = Reconciler(svc.services, start_reconcile(svc.services, reason="test", repair=False), repair=False)
        reconcile.run()
        assert_index_matches(svc, market)

        logged = stand.logged()
        assert logged and stand.throttled == 0, f"{stand.throttled} requests over the rate limit"
        assert all((e.accept or "").startswith("application/json") for e in logged), {e.accept for e in logged}
        for entry in stand.logged("events/query"):
            asked = set((entry.params.get("eventTypes") or "").split(","))
            families = {t.split("/")[0] for t in asked}
            assert families == set(SYNC_FAMILIES), asked
            assert not any(t.startswith("stockReservation") for t in asked)
    assert Settings.model_fields["sync_interval_seconds"].default >= 10


def jobs_process(svc: Service, engine_url: str, standin_url: str) -> subprocess.Popen[str]:
    """`listing-search jobs --beat`, as deployed: beat ticks the sync, the worker runs the jobs."""
    env = service_env(
        svc,
        engine_url,
        LISTING_SEARCH_SHARETRIBE_BASE_URL=standin_url,
        LISTING_SEARCH_SHARETRIBE_CLIENT_ID=CLIENT_ID,
        LISTING_SEARCH_SHARETRIBE_CLIENT_SECRET=CLIENT_SECRET,
        LISTING_SEARCH_SYNC_INTERVAL_SECONDS="0.5",
        LISTING_SEARCH_SYNC_RATE_LIMIT_PER_SECOND="0",
    )
    # Its log goes to a file: a pipe nobody reads fills up (64 KiB, about a minute of beat's INFO
    # lines) and then blocks the process in the middle of a task.
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (lives as long as the process: on `proc`)
    # A session of its own: `--beat` runs beat in a child process, and the whole group must go.
    proc = subprocess.Popen(
        [*cli_command(), "jobs", "--beat"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def log_tail(proc: subprocess.Popen[str]) -> str:
    log = proc.log  # type: ignore[attr-defined]
    log.seek(0)
    return str(log.read())[-5000:]


def wait_matching(svc: Service, stand: StandIn, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    mismatch = "never compared"
    while True:
        assert proc.poll() is None, log_tail(proc)
        status = svc.status()
        asked = stand.requests_to("events/query")
        caught_up = bool(asked) and status["sync"]["checkpoint"]["sequenceId"] == expected_checkpoint(stand)
        resync = status["sync"]["resync"]
        if caught_up and (resync is None or resync["state"] == "succeeded") and status["pending"] == 0:
            try:
                assert_index_matches(svc, stand.market)
                return
            except AssertionError as exc:
                mismatch = str(exc)[:2000]
                if time.monotonic() > deadline:
                    raise
        assert time.monotonic() < deadline, (
            f"not in sync after {timeout}s: caught up {caught_up}, pending {status['pending']}, "
            f"waiting {status['waitingBookings']}, expected checkpoint {expected_checkpoint(stand)}, "
            f"{status['sync']}; last mismatch: {mismatch}; the jobs process's log ends:\n{log_tail(proc)}"
        )
        time.sleep(0.2)


def test_celery_beat_syncs_and_a_restart_continues_from_the_checkpoint(engine_url: str, redis_url: str) -> None:
    with standin() as (stand, url):
        market = stand.market
        rng = random.Random(41)
        market.random_changes(rng, 400)
        with running_service(engine_url, redis_url, **sync_settings(url)) as svc:
            first = jobs_process(svc, engine_url, url)
            try:
                wait_matching(svc, stand, first)  # no checkpoint: a full re-sync, then events
            finally:
                crash(first)  # no goodbye: whatever it held is the checkpoint's problem
            checkpoint = load_checkpoint(svc.services).sequence_id
            assert checkpoint == expected_checkpoint(stand)
            resyncs = len(stand.requests_to("listings/query"))
            seen = len(stand.requests_to("events/query"))

            market.random_changes(rng, 300)  # while nothing polls
            second = jobs_process(svc, engine_url, url)
            try:
                wait_matching(svc, stand, second)
                later = stand.requests_to("events/query")[seen:]
                assert later[0]["startAfterSequenceId"] == str(checkpoint), later[0]
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
                wait_matching(svc, stand, second)
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
    """`listing-search dev` has no beat: it runs the same schedule on its own threads, and loads no demo data."""
    with standin() as (stand, url):
        market = stand.market
        rng = random.Random(2)
        market.random_changes(rng, 150)
        index_prefix = f"t-dev-{new_id()[:8]}"
        env = {
            "OPENSEARCH_URL": engine_url,
            "LISTING_SEARCH_INDEX_PREFIX": index_prefix,
            "LISTING_SEARCH_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "LISTING_SEARCH_REPLICAS": "0",
            "LISTING_SEARCH_SHARETRIBE_BASE_URL": url,
            "LISTING_SEARCH_SHARETRIBE_CLIENT_ID": CLIENT_ID,
            "LISTING_SEARCH_SHARETRIBE_CLIENT_SECRET": CLIENT_SECRET,
            "LISTING_SEARCH_SYNC_INTERVAL_SECONDS": "0.3",
            "LISTING_SEARCH_SYNC_RATE_LIMIT_PER_SECOND": "0",
        }
        try:
            with dev_process(redis_url, env=env, unset=()) as dev:
                published = flex_oracle.published(market)
                deadline = time.monotonic() + 120
                while True:
                    assert dev.proc.poll() is None, dev.log()[-5000:]
                    try:
                        body = httpx.get(f"{dev.base}/v1/api/listings/query", params={"perPage": 100}, timeout=5).json()
                        status = httpx.get(
                            f"{dev.base}/v1/status", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=5
                        ).json()
                        seen = {d["id"] for d in body["data"]}
                        asked = stand.requests_to("events/query")
                        checkpoint = status["sync"]["checkpoint"]["sequenceId"]
                        if seen == published and asked and checkpoint == expected_checkpoint(stand):
                            break
                    except (httpx.HTTPError, KeyError):
                        pass
                    assert time.monotonic() < deadline, "dev did not follow the marketplace"
                    time.sleep(0.3)
                assert len(published) < 100 and status["documents"] >= len(published)
        finally:
            opensearch_client(engine_url).indices.delete(
                index=f"{index_prefix}*", params={"ignore_unavailable": "true"}
            )
