"""Public search latency for `/metrics`, as a plain ASGI middleware: Starlette's
`@app.middleware("http")` (BaseHTTPMiddleware) costs a task and a stream per request."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from infra.histogram import Histogram
from search_api.edge.cors import PUBLIC_PREFIX


class QueryTiming:
    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PUBLIC_PREFIX):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.histogram.observe(time.perf_counter() - began)
