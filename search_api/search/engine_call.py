"""The public search's one engine call, made on the event loop: `POST /<index>/_search`.

Through opensearch-py a search was a hop to the thread pool and back, the client's request
layers, urllib3, and a decode: together the larger part of what the API added to a search
(issue 17, `bench.api_throughput`; figures in docs/benchmarks.md). This is the same REST call
with aiohttp's pooled keep-alive connections, awaited, so a search never leaves the event loop.

Failures are raised as opensearch-py's own exceptions, as opensearch-py would raise them
(`Connection._raise_error`): `ConnectionTimeout` for a timeout, `ConnectionError` for a
refused or broken connection, the status's `TransportError` subclass for an error answer. So
callers handle one set of exceptions whichever client made the call. No retries, as the
engine client is configured (`max_retries=0`): the caller decides.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from opensearchpy import OpenSearch
from opensearchpy.exceptions import HTTP_EXCEPTIONS, ConnectionTimeout, TransportError
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from yarl import URL

from infra.engine_connection import EngineClient

Sign = Callable[[str, str, bytes | None], Mapping[str, str]]

_JSON = {"content-type": "application/json", "accept": "application/json"}


class EngineSearch:
    """One per API process; its session is made on first use, in the loop that serves."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        sign: Sign | None = None,
        ssl_context: ssl.SSLContext | None = None,
        pool: int = 64,
    ) -> None:
        self.url = url.rstrip("/")
        self.headers = {**_JSON, **(headers or {})}
        # SigV4: each request's headers are signed over its method, URL and exact body bytes.
        self.sign = sign
        self.ssl_context = ssl_context
        self.pool = pool
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[tuple[str, str | None], URL] = {}

    @classmethod
    def of(cls, engine: OpenSearch) -> EngineSearch:
        """Where the engine client points, with its TLS and credentials: one engine reached one way
        by both clients, whatever made the client (a test's proxy included)."""
        if isinstance(engine, EngineClient):
            connection = engine.connection
            auth = connection.auth_headers()
            if callable(auth):
                return cls(connection.url, sign=auth, ssl_context=connection.ssl_context())
            return cls(connection.url, headers=dict(auth), ssl_context=connection.ssl_context())
        conn = engine.transport.get_connection()
        auth = {k: v for k, v in conn.headers.items() if k.lower() == "authorization"}
        return cls(f"{conn.host}{conn.url_prefix}", headers=auth)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool, ttl_dns_cache=300, ssl=self.ssl_context or True),
                # An engine never sets cookies worth keeping; no jar, no per-answer cookie parsing.
                cookie_jar=aiohttp.DummyCookieJar(),
                # No `Accept-Encoding: gzip, deflate` (aiohttp's default), as opensearch-py sends none
                # unless `http_compress` is on: OpenSearch compresses whenever asked (on by default,
                # `http.compression`), which costs the engine a gzip and us a gunzip of ~45 KB per
                # search on a network where bandwidth is not what is short.
                skip_auto_headers=("Accept-Encoding", "User-Agent"),
            )
        return self._session

    def _url(self, index: str, filter_path: str | None) -> URL:
        # Built and parsed once per index and filter: yarl's parse of a URL string is a noticeable
        # share of a request's client-side cost.
        key = (index, filter_path)
        url = self._urls.get(key)
        if url is None:
            url = URL(f"{self.url}/{quote(index, safe=',*')}/_search")
            if filter_path:
                url = url.with_query(filter_path=filter_path)
            if len(self._urls) > 256:  # index names change only at rebuilds; never grow unbounded
                self._urls.clear()
            self._urls[key] = url
        return url

    async def search(
        self, index: str, body: dict[str, Any], *, timeout: float, filter_path: str | None = None
    ) -> dict[str, Any]:
        url = self._url(index, filter_path)
        data = orjson.dumps(body)
        headers = self.headers if self.sign is None else {**self.headers, **self.sign("POST", str(url), data)}
        began = time.monotonic()
        for attempt in (1, 2):
            try:
                async with self._open().post(
                    url,
                    data=data,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout - (time.monotonic() - began)),
                ) as resp:
                    raw = await resp.read()
                    status, content_type = resp.status, resp.headers.get("content-type", "")
                break
            except aiohttp.ServerDisconnectedError as exc:
                # A kept-alive connection the engine had just closed: a search is safe to send
                # again, once, on a new connection (urllib3 checks for this before reusing one).
                if attempt == 2 or time.monotonic() - began >= timeout:
                    raise EngineConnectionError("N/A", str(exc), exc) from exc
            except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
                raise ConnectionTimeout("TIMEOUT", f"no answer within {timeout:.3g} s", exc) from exc
            except (aiohttp.ClientError, OSError) as exc:
                raise EngineConnectionError("N/A", str(exc), exc) from exc
        if status >= 300:
            _raise_error(status, raw, content_type)
        return _decode(raw)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _decode(raw: bytes) -> dict[str, Any]:
    # Its own frame, so that a profile shows the decode apart from the HTTP client.
    result: dict[str, Any] = orjson.loads(raw)
    return result


def _raise_error(status: int, raw: bytes, content_type: str) -> None:
    """opensearch-py's `Connection._raise_error`: the status's exception, with the error's type."""
    message: Any = raw.decode("utf-8", "replace")
    info: Any = None
    if raw and content_type.split(";")[0].strip() == "application/json":
        try:
            info = orjson.loads(raw)
        except orjson.JSONDecodeError:
            info = None
        if isinstance(info, dict):
            message = info.get("error", message)
            if isinstance(message, dict) and "type" in message:
                message = message["type"]
    raise HTTP_EXCEPTIONS.get(status, TransportError)(status, message, info)
