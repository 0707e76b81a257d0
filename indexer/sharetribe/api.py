"""A small client for the Sharetribe Integration API: token, queries, paging, backoff.

Only what the sync needs: `events/query`, `listings/query|show`, `availability_exceptions/query`
and `transactions/query` (bookings and stock reservations). Wire format as documented by
Sharetribe: a client-credentials token from `POST /v1/auth/token` (form encoded, scope
`integ`), JSON:API responses `{"data", "included", "meta"}`, pages of at most 100.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from infra.settings import Settings

log = logging.getLogger(__name__)

API_PREFIX = "/v1/integration_api"
TOKEN_PATH = "/v1/auth/token"
PAGE_SIZE = 100  # the most Flex returns in one page, events included
# A token is renewed this long before Flex says it expires.
TOKEN_SLACK_S = 60.0


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
    by_path: dict[str, int] = field(default_factory=dict)


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
    ) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_seconds)
        self._client_id = client_id
        self._client_secret = client_secret
        self._retry_max = retry_max_seconds
        self._give_up = give_up_seconds
        self._sleep = sleep
        self._token: str | None = None
        self._token_expires = 0.0
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
        )

    def close(self) -> None:
        self._http.close()

    # ---- queries --------------------------------------------------------------------------

    def events(self, *, after: int | None = None, created_at_start: str | None = None) -> list[dict[str, Any]]:
        """One page (≤ 100) of events in ascending sequenceId order."""
        params: dict[str, str] = {}
        if after is not None:
            params["startAfterSequenceId"] = str(after)
        elif created_at_start is not None:
            params["createdAtStart"] = created_at_start
        data = self.get("events/query", params).get("data")
        return data if isinstance(data, list) else []

    def show_listing(self, listing_id: str) -> dict[str, Any] | None:
        """One listing with its current stock resolved into the relationship, or None if gone."""
        try:
            body = self.get("listings/show", {"id": listing_id, "include": "currentStock"})
        except SharetribeError as exc:
            if exc.status == 404:
                return None
            raise
        resource = body.get("data")
        if not isinstance(resource, dict):
            return None
        return resolve_included(resource, body.get("included") or [])

    def pages(self, path: str, params: Mapping[str, str], *, keyset: bool = True) -> Iterator[Page]:
        """Every item of a query, a page at a time, as (data, included).

        `keyset` (listings, transactions: newest first): each request asks for the items older
        than the oldest one seen (`createdAtEnd`, one millisecond past it for ties, duplicates
        skipped). Offsets would skip an item whenever one before it is deleted mid-scan, and a
        scan that misses a listing would take it for deleted; keyset paging cannot, and it
        never reaches Flex's `paginationLimit`. Without `keyset`, plain `page` numbers.
        """
        seen: set[str] = set()
        window: dict[str, str] = dict(params)
        page = 1
        while True:
            body = self.get(path, {**window, "page": str(page), "perPage": str(PAGE_SIZE)})
            items = [d for d in body.get("data") or [] if isinstance(d, dict)]
            fresh = [d for d in items if str(d.get("id")) not in seen]
            seen.update(str(d.get("id")) for d in fresh)
            if fresh:
                yield fresh, list(body.get("included") or [])
            total_pages = int((body.get("meta") or {}).get("totalPages") or 0)
            if len(items) < PAGE_SIZE or page >= total_pages:
                return
            created = [c for d in items if isinstance(c := (d.get("attributes") or {}).get("createdAt"), str)]
            if keyset and fresh and created:
                window["createdAtEnd"] = _plus_ms(min(created), 1)
                page = 1
            else:
                # No createdAt, or a whole page sharing one millisecond: step through by number.
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
        returned for the caller to judge."""
        began = time.monotonic()
        attempt = 0
        while True:
            if counted:
                self.stats.requests += 1
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
            if time.monotonic() - began + delay > self._give_up:
                raise SharetribeUnavailable(f"{what}: {problem} (gave up after {self._give_up:.0f}s)")
            log.warning("Integration API %s: %s; retrying in %.1fs", what, problem, delay)
            if counted:
                self.stats.retries += 1
            attempt = min(attempt + 1, 20)
            self._sleep(delay)


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


def _plus_ms(timestamp: str, ms: int) -> str:
    parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00")) + timedelta(milliseconds=ms)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"
