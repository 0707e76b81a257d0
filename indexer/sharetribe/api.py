"""A small client for the Sharetribe Integration API: token, queries, scans, politeness, backoff.

Only what the sync needs: `events/query`, `listings/query|show`, `availability_exceptions/query`
and `transactions/query|show`. Wire format as documented by Sharetribe: a client-credentials
token from `POST /v1/auth/token` (form encoded, scope `integ`), JSON:API responses
`{"data", "included", "meta"}`, pages of at most 100.

Politeness, because Sharetribe asks for it:
- every request says `Accept: application/json`. The Integration API speaks JSON and Transit
  (docs, concepts/api "Introduction"); the Integration SDK asks for Transit
  (`Accept: application/transit+json`, src/integration_sdk.js `createHeaders`), so a client that
  parses JSON must ask for JSON rather than rely on a default;
- `events/query` asks only for the event types search uses (`eventTypes`, a comma-separated list
  of full types, as in docs, how-to/reacting-to-events "Querying events");
- a client-side token bucket per environment (docs, concepts/rate-limiting: queries 1 request per
  second on average in Dev and Test, per client IP; "we do appreciate it if you also transfer
  those behaviors into production"), on top of the backoff on 429 that honours `Retry-After`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from indexer.pipeline.booking_links import Link
from infra.settings import Settings
from schemas.events import SEARCH_EVENTS, TRANSACTION_EVENTS

log = logging.getLogger(__name__)

API_PREFIX = "/v1/integration_api"
TOKEN_PATH = "/v1/auth/token"
PAGE_SIZE = 100  # the most Flex returns in one page, events included
# A token is renewed this long before Flex says it expires.
TOKEN_SLACK_S = 60.0
# Sent with every request: we parse JSON, and the API can answer Transit as well.
ACCEPT_JSON = {"Accept": "application/json"}
# What search needs from the event log: listings, their availability exceptions, bookings, stock
# adjustments, and transactions (which name a booking's listing). Full type names, comma
# separated: the form the docs show for `eventTypes` (how-to/reacting-to-events). The types are
# those of references/events "Supported event types"; `stockReservation/*` is left out on
# purpose, its effect on stock arrives as stock adjustments (references/stock).
EVENT_TYPES = ",".join(sorted(SEARCH_EVENTS | TRANSACTION_EVENTS))
# What a listing is read with: its current stock, and its author's id. A relationship's `data`
# (the related id) comes with `include` (the Integration SDK's own fake of the API,
# src/fake/api.js, answers a listing query without `include` with relationship links only); the
# author's attributes are not needed (`fields.user=none`, sparse fields as in
# sharetribe/integration-api-examples scripts/analytics.js). Its images' ids too, as listing
# events carry them (references/events), so a re-sync stores what the events would.
LISTING_INCLUDE = {"include": "author,currentStock,images", "fields.user": "none", "fields.image": "none"}
# Transactions whose links are remembered (a few hundred bytes each).
TRANSACTION_CACHE_SIZE = 4096
# How long a transaction id Flex answered 404 for is not asked about again.
MISSING_TRANSACTION_TTL_S = 600.0
# A scan window this narrow (ms) is not split again; its items share a millisecond or two.
NARROWEST_WINDOW_MS = 2
# Pages read by number in such a window when `meta.totalPages` is missing.
MAX_NUMBERED_PAGES = 100
# The window a scan splits when a query has more than a page: every createdAt Flex can hold
# lies between the epoch and a day past our clock.
DAY_MS = 86_400_000


# One page of a query: (data, included).
Page = tuple[list[dict[str, Any]], list[dict[str, Any]]]


class SharetribeError(RuntimeError):
    """The Integration API refused a request (a 4xx other than 401/429): retrying will not help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SharetribeUnavailable(RuntimeError):
    """Still 429/5xx or unreachable after backing off for the configured time."""


@dataclass
class CallStats:
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    # Seconds spent waiting for the client-side rate limit.
    waited_s: float = 0.0
    # Scan windows read, and items a scan could not reach (more than paginationLimit pages
    # sharing one millisecond of createdAt).
    windows: int = 0
    unreachable: int = 0
    by_path: dict[str, int] = field(default_factory=dict)


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; every request takes one.

    A caller that finds the bucket empty takes its token from the future and sleeps until then,
    outside the lock, so callers sharing the bucket queue up in order instead of all waking at
    once. This is the model of the Integration SDK's `createRateLimiter` (src/utils.js).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token: the seconds to wait before using it (0 when one was there)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        """Take a token, sleeping until it is due; the seconds slept."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


_BUCKETS: dict[tuple[str, str, float, int], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def shared_bucket(base_url: str, client_id: str, rate: float, burst: int) -> TokenBucket | None:
    """The process's bucket for one environment (base URL and client id), or None when off.

    Flex counts requests per client IP (concepts/rate-limiting), so every client of one
    environment in this process (the poller, a re-sync, a reconciliation) draws from one bucket.
    Other processes on the same host have their own: divide the rate between them if several
    job workers follow the same marketplace.
    """
    if rate <= 0:
        return None
    key = (base_url.rstrip("/"), client_id, rate, burst)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = TokenBucket(rate, burst)
        return bucket


class TransactionCache:
    """Transaction id -> its `Link`, least recently used first out.

    A transaction's listing is fixed when it is initiated, so a link found never goes stale. A
    404 is remembered for `MISSING_TRANSACTION_TTL_S` only: the id may be a booking's (bookings
    whose transaction is unknown wait under their own id), and asking again later is cheap.
    """

    def __init__(self, size: int = TRANSACTION_CACHE_SIZE, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self._clock = clock
        self._items: OrderedDict[str, tuple[Link | None, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tx_id: str) -> tuple[bool, Link | None]:
        """(known, link): known is False when Flex has to be asked."""
        with self._lock:
            found = self._items.get(tx_id)
            if found is None:
                return False, None
            link, expires = found
            if link is None and self._clock() >= expires:
                del self._items[tx_id]
                return False, None
            self._items.move_to_end(tx_id)
            return True, link

    def put(self, tx_id: str, link: Link | None) -> None:
        with self._lock:
            expires = float("inf") if link is not None else self._clock() + MISSING_TRANSACTION_TTL_S
            self._items[tx_id] = (link, expires)
            self._items.move_to_end(tx_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class IntegrationApi:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        retry_max_seconds: float = 30.0,
        give_up_seconds: float = 120.0,
        timeout_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        bucket: TokenBucket | None = None,
        transport: httpx.BaseTransport | None = None,
        event_types: str = EVENT_TYPES,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_seconds, headers=ACCEPT_JSON, transport=transport
        )
        self._client_id = client_id
        self._client_secret = client_secret
        self._retry_max = retry_max_seconds
        self._give_up = give_up_seconds
        self._sleep = sleep
        self._bucket = bucket
        self._token: str | None = None
        self._token_expires = 0.0
        self.event_types = event_types
        self.transactions = TransactionCache()
        self.stats = CallStats()

    @classmethod
    def from_settings(cls, settings: Settings) -> IntegrationApi:
        if not settings.sync_configured():
            raise SharetribeError(
                "Sharetribe sync is not configured: set LISTING_SEARCH_SHARETRIBE_CLIENT_ID and "
                "LISTING_SEARCH_SHARETRIBE_CLIENT_SECRET"
            )
        assert settings.sharetribe_client_id is not None and settings.sharetribe_client_secret is not None
        return cls(
            settings.sharetribe_base_url,
            settings.sharetribe_client_id,
            settings.sharetribe_client_secret.get_secret_value(),
            retry_max_seconds=settings.sync_retry_max_seconds,
            give_up_seconds=settings.sync_give_up_seconds,
            timeout_seconds=settings.sync_timeout_seconds,
            bucket=shared_bucket(
                settings.sharetribe_base_url,
                settings.sharetribe_client_id,
                settings.sync_rate_limit_per_second,
                settings.sync_rate_limit_burst,
            ),
        )

    def close(self) -> None:
        self._http.close()

    # ---- queries --------------------------------------------------------------------------

    def events(self, *, after: int | None = None, created_at_start: str | None = None) -> list[dict[str, Any]]:
        """One page (≤ 100) of the event types search needs, in ascending sequenceId order
        (references/events "Event sequence IDs": events are always returned in that order).

        Filtering by type keeps the checkpoint exact: `startAfterSequenceId` counts sequence
        ids, which stay strictly increasing across the types we skip."""
        params: dict[str, str] = {"eventTypes": self.event_types} if self.event_types else {}
        if after is not None:
            params["startAfterSequenceId"] = str(after)
        elif created_at_start is not None:
            params["createdAtStart"] = created_at_start
        data = self.get("events/query", params).get("data")
        return data if isinstance(data, list) else []

    def show_listing(self, listing_id: str) -> dict[str, Any] | None:
        """One listing with its current stock resolved into the relationship, or None on 404.

        `include=currentStock` is the only way to read stock totals: a listing resource (and so a
        listing event) carries none, and the total already counts every reservation, which Flex
        records as stock adjustments (references/stock "Stock reservation states"). A deleted
        listing is a 404: "Deleted listings don't get returned by any listing endpoints" (docs,
        concepts/listings-overview "Deleted"); one shown anyway with `deleted: true` (the shape
        of a deleted listing included in another answer) is returned, and callers treat it as gone.
        """
        try:
            body = self.get("listings/show", {"id": listing_id, **LISTING_INCLUDE})
        except SharetribeError as exc:
            if exc.status == 404:
                return None
            raise
        resource = body.get("data")
        if not isinstance(resource, dict):
            return None
        return resolve_included(resource, body.get("included") or [])

    def transaction_links(self, tx_id: str) -> Link | None:
        """The listing (and booking) of a transaction, or None when Flex has no such transaction.

        `transactions/show` with `include=listing,booking`: a transaction's one-to-one
        relationships are `listing`, `booking` and `stockReservation` (references/events
        "Resource data and previous values"; the Integration API reference, Transactions).
        Including them makes sure the relationship ids are in the answer; `fields.listing=none`
        keeps the included listing down to its id (sparse fields as in sharetribe/
        integration-api-examples scripts/analytics.js). Answers are cached (`TransactionCache`).
        """
        known, link = self.transactions.get(tx_id)
        if known:
            return link
        try:
            body = self.get(
                "transactions/show",
                {"id": tx_id, "include": "listing,booking", "fields.listing": "none", "fields.booking": "none"},
            )
        except SharetribeError as exc:
            if exc.status != 404:
                raise
            self.transactions.put(tx_id, None)
            return None
        link = parse_transaction_links(body, tx_id)
        self.transactions.put(tx_id, link)
        return link

    def scan(self, path: str, params: Mapping[str, str], *, now: datetime | None = None) -> Iterator[Page]:
        """Every item of a `listings/query` or `transactions/query`, a page at a time, each item
        once, correct whatever order Flex returns them in.

        The reference does not promise an order we could page by, and offsets skip an item
        whenever one before it is deleted mid-scan, which a re-sync would take for a deletion.
        So every request is the first page of a `createdAtStart`/`createdAtEnd` window
        (`createdAtStart` on both queries as in sharetribe/integration-api-examples
        scripts/analytics.js; `createdAtEnd` its upper bound): a window whose items all fit in
        one page is read in one request, and a fuller one is split in two halves that overlap by
        a millisecond, which covers items on the boundary whichever end of a window is inclusive
        (duplicates are dropped). A window two milliseconds wide that still holds more than a
        page is read by page number, up to Flex's `paginationLimit`; what lies beyond is counted
        in `stats.unreachable`. Items more than a day past our clock are found in open-ended
        windows that double outwards. It costs three to four requests per hundred items, plus
        about two per halving from the epoch down to where the items are (a few dozen), and
        never reaches `paginationLimit` otherwise.
        """
        seen: set[str] = set()
        upper_ms = int((now or datetime.now(UTC)).timestamp() * 1000) + DAY_MS
        # (start, end) in epoch ms; an end of None asks no createdAtEnd. The first query asks
        # neither: a small marketplace is one request.
        windows: list[tuple[int, int | None] | None] = [None]
        while windows:
            window = windows.pop()
            query = {**params, "page": "1", "perPage": str(PAGE_SIZE)}
            if window is not None:
                query["createdAtStart"] = _iso_ms(window[0])
                if window[1] is not None:
                    query["createdAtEnd"] = _iso_ms(window[1])
            body = self.get(path, query)
            self.stats.windows += 1
            items = _items(body)
            # Every answer is a read like any other, even when its window is split further.
            if fresh := _fresh(items, seen):
                yield fresh, _included(body)
            if _complete(items, body.get("meta")):
                continue
            if window is None:
                # Everything from the epoch to a day past our clock, and whatever lies beyond
                # (a clock far behind Flex's), overlapping by a millisecond like the halves.
                windows.append((upper_ms - 1, None))
                window = (0, upper_ms)
            lo, hi = window
            if hi is None:
                # Past our clock and more than a page: a bounded part, and beyond it an open one
                # twice as far out.
                hi = lo + max(DAY_MS, 2 * (lo - upper_ms))
                windows.append((hi - 1, None))
            if hi - lo <= NARROWEST_WINDOW_MS:
                yield from self._numbered(path, query, body, seen)
                continue
            mid = lo + (hi - lo) // 2
            # A stack: the older half is read first, then the newer one.
            windows.append((mid, hi))
            windows.append((lo, mid + 1))

    def _numbered(self, path: str, query: dict[str, str], first: dict[str, Any], seen: set[str]) -> Iterator[Page]:
        """A window too narrow to split, page after page from the second (its items share a
        millisecond or two; the first page was yielded already)."""
        raw = first.get("meta")
        meta: dict[str, Any] = raw if isinstance(raw, dict) else {}
        total_pages = _int(meta.get("totalPages")) or MAX_NUMBERED_PAGES
        limit = _int(meta.get("paginationLimit")) or total_pages
        if total_pages > limit:
            missed = (_int(meta.get("totalItems")) or total_pages * PAGE_SIZE) - limit * PAGE_SIZE
            self.stats.unreachable += max(missed, 0)
            log.warning("%s: %s items share one millisecond past paginationLimit; not read", path, missed)
        for page in range(2, min(total_pages, limit) + 1):
            body = self.get(path, {**query, "page": str(page)})
            items = _items(body)
            if fresh := _fresh(items, seen):
                yield fresh, _included(body)
            if len(items) < PAGE_SIZE:
                return

    def pages(self, path: str, params: Mapping[str, str]) -> Iterator[Page]:
        """Every item of a small query (a listing's availability exceptions), by page number."""
        seen: set[str] = set()
        page = 1
        while True:
            body = self.get(path, {**params, "page": str(page), "perPage": str(PAGE_SIZE)})
            items = _items(body)
            if fresh := _fresh(items, seen):
                yield fresh, _included(body)
            total_pages = _int((body.get("meta") or {}).get("totalPages"))
            if len(items) < PAGE_SIZE or page >= total_pages:
                return
            page += 1

    # ---- transport ------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        url = f"{API_PREFIX}/{path}"

        def request() -> httpx.Response:
            self.stats.by_path[path] = self.stats.by_path.get(path, 0) + 1
            return self._http.get(url, params=params, headers={"Authorization": f"Bearer {self._access_token()}"})

        for refreshed in (False, True):
            resp = self._send(f"GET {url}", request, counted=True)
            if resp.status_code == 200:
                body: dict[str, Any] = resp.json()
                return body
            if resp.status_code == 401 and not refreshed:
                self._token = None  # expired or revoked: one fresh token, then a real error
                continue
            break
        raise SharetribeError(f"GET {url} answered {resp.status_code}: {_error_title(resp)}", resp.status_code)

    def _access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_expires:
            return self._token
        form = {
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
            "scope": "integ",
        }
        resp = self._send("token request", lambda: self._http.post(TOKEN_PATH, data=form))
        if resp.status_code != 200:
            raise SharetribeError(f"token request answered {resp.status_code}: {_error_title(resp)}", resp.status_code)
        body = resp.json()
        self._token = str(body["access_token"])
        expires_in = float(body.get("expires_in") or 3600)
        self._token_expires = time.monotonic() + max(1.0, expires_in - TOKEN_SLACK_S)
        return self._token

    def _send(self, what: str, request: Callable[[], httpx.Response], *, counted: bool = False) -> httpx.Response:
        """The answer to `request`, retrying network errors, 429 and 5xx with capped backoff
        (jittered, at least `Retry-After`) for up to `give_up_seconds`; any other answer is
        returned for the caller to judge. Integration API requests (`counted`) first take a
        token from the rate limit; time spent waiting for one is not time spent failing."""
        began = time.monotonic()
        waited = 0.0
        attempt = 0
        while True:
            if counted:
                self.stats.requests += 1
                if self._bucket is not None:
                    slept = self._bucket.acquire()
                    waited += slept
                    self.stats.waited_s += slept
            resp: httpx.Response | None
            try:
                resp = request()
            except httpx.TransportError as exc:
                resp, problem = None, f"{type(exc).__name__}: {exc}"
            if resp is not None:
                if resp.status_code != 429 and resp.status_code < 500:
                    return resp
                problem = f"{resp.status_code} {_error_title(resp)}"
                if resp.status_code == 429 and counted:
                    self.stats.throttled += 1
            delay = min(self._retry_max, 0.25 * 2**attempt)
            delay = random.uniform(delay / 2, delay)
            if resp is not None and (hint := _retry_after(resp)) is not None:
                delay = min(self._retry_max, max(delay, hint))
            if time.monotonic() - began - waited + delay > self._give_up:
                raise SharetribeUnavailable(f"{what}: {problem} (gave up after {self._give_up:.0f}s)")
            log.warning("Integration API %s: %s; retrying in %.1fs", what, problem, delay)
            if counted:
                self.stats.retries += 1
            attempt = min(attempt + 1, 20)
            self._sleep(delay)


def parse_transaction_links(body: Mapping[str, Any], tx_id: str) -> Link | None:
    """The `Link` a `transactions/show` answer tells, or None if it names no listing."""
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    listing_id = relationship_id(data, "listing")
    if listing_id is None:
        return None
    own = data.get("id")
    return Link(own if isinstance(own, str) and own else tx_id, listing_id, relationship_id(data, "booking"))


def relationship_id(resource: Mapping[str, Any], name: str) -> str | None:
    """`relationships.<name>.data.id` of a JSON:API resource, if it is there."""
    rels = resource.get("relationships")
    rel = rels.get(name) if isinstance(rels, dict) else None
    data = rel.get("data") if isinstance(rel, dict) else None
    rid = data.get("id") if isinstance(data, dict) else None
    return rid if isinstance(rid, str) and rid else None


def resolve_included(resource: dict[str, Any], included: list[dict[str, Any]]) -> dict[str, Any]:
    """Inline `currentStock` from `included`, the shape event resources are classified in."""
    rels = resource.get("relationships")
    if not isinstance(rels, dict) or not isinstance(rels.get("currentStock"), dict):
        return resource
    ref = rels["currentStock"].get("data")
    if not isinstance(ref, dict):
        return resource
    found = next((i for i in included if i.get("type") == ref.get("type") and i.get("id") == ref.get("id")), None)
    if found is None:
        return resource
    return {**resource, "relationships": {**rels, "currentStock": {"data": found}}}


def index_included(included: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(i.get("type")), str(i.get("id"))): i for i in included if isinstance(i, dict)}


def _items(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [d for d in body.get("data") or [] if isinstance(d, dict)]


def _included(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [i for i in body.get("included") or [] if isinstance(i, dict)]


def _fresh(items: list[dict[str, Any]], seen: set[str]) -> list[dict[str, Any]]:
    """Items not yielded before (windows overlap), remembered from now on."""
    fresh = []
    for item in items:
        key = str(item.get("id"))
        if key not in seen:
            seen.add(key)
            fresh.append(item)
    return fresh


def _complete(items: list[dict[str, Any]], meta: object) -> bool:
    """Whether one page holds every item of its query: a short page is the last one (offset
    paging), and a full one is all there is only when `meta` says so (`totalItems`,
    `totalPages`: the SDK's docs/calling-the-api.md "Success response")."""
    if len(items) < PAGE_SIZE:
        return True
    if not isinstance(meta, dict):
        return False
    total_items, total_pages = _int(meta.get("totalItems")), _int(meta.get("totalPages"))
    return (0 < total_items <= len(items)) or total_pages == 1


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _iso_ms(ms: int) -> str:
    """A Flex timestamp (ISO 8601, UTC, milliseconds) for epoch milliseconds."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _retry_after(resp: httpx.Response) -> float | None:
    raw = resp.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _error_title(resp: httpx.Response) -> str:
    try:
        errors = resp.json().get("errors") or []
        if errors and isinstance(errors[0], dict):
            return str(errors[0].get("title") or errors[0].get("code") or "")
    except ValueError:
        pass
    return resp.text[:200]
