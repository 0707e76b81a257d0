"""An HTTP proxy in front of the engine that holds `_bulk` requests for a while, counts how many
are in flight at once, and can answer chosen ones with 503: what a worker's pipelining must
cope with, on a real engine behind it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from listing_search.runner import serve_in_thread

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class BulkProxy:
    def __init__(self, engine_url: str, *, delay: float, fail: set[int] | None = None) -> None:
        self.engine_url = engine_url
        self.delay = delay
        self.fail = fail or set()  # 1-based numbers of the bulk requests answered with 503
        self.bulks = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    async def _forward(self, request: Request) -> Response:
        path = request.url.path
        is_bulk = request.method in ("POST", "PUT") and path.endswith("/_bulk")
        if is_bulk:
            with self._lock:
                self.bulks += 1
                number = self.bulks
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if is_bulk:
                await asyncio.sleep(self.delay)
                if number in self.fail:
                    return JSONResponse({"error": {"type": "proxy", "reason": "injected"}, "status": 503}, 503)
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
            async with httpx.AsyncClient(base_url=self.engine_url, timeout=60) as client:
                upstream = await client.request(
                    request.method, path, params=request.query_params, content=await request.body(), headers=headers
                )
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
            return Response(upstream.content, status_code=upstream.status_code, headers=out)
        finally:
            if is_bulk:
                with self._lock:
                    self.in_flight -= 1

    def app(self) -> FastAPI:
        methods = ["GET", "POST", "PUT", "DELETE", "HEAD"]
        return FastAPI(routes=[Route("/{path:path}", self._forward, methods=methods)], openapi_url=None)


@contextmanager
def bulk_proxy(engine_url: str, *, delay: float, fail: set[int] | None = None) -> Iterator[tuple[BulkProxy, str]]:
    proxy = BulkProxy(engine_url, delay=delay, fail=fail)
    server = serve_in_thread(proxy.app())
    try:
        yield proxy, server.url
    finally:
        server.stop()
