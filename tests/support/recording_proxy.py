"""An HTTP proxy in front of the engine that writes down every request as it arrives on the wire
(method, path, query, body bytes) and passes it on unchanged: the requests a test run really
sent, for checking against the engine's own API specification (tests/support/opensearch_spec)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from listing_search.runner import serve_in_thread

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    body: bytes
    status: int


def read_log(path: Path) -> list[Recorded]:
    out = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        out.append(Recorded(row["method"], row["path"], row["query"], base64.b64decode(row["body"]), row["status"]))
    return out


class RecordingProxy:
    def __init__(self, engine_url: str, log: Path) -> None:
        self.engine_url = engine_url
        self.log = log
        self._lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.engine_url, timeout=120)
        upstream = await self._client.request(
            request.method, request.url.path, params=request.query_params, content=body, headers=headers
        )
        row = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "body": base64.b64encode(body).decode(),
            "status": upstream.status_code,
        }
        with self._lock, self.log.open("a") as f:
            f.write(json.dumps(row) + "\n")
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
        return Response(upstream.content, status_code=upstream.status_code, headers=out)

    def app(self) -> FastAPI:
        methods = ["GET", "POST", "PUT", "DELETE", "HEAD"]
        return FastAPI(routes=[Route("/{path:path}", self._forward, methods=methods)], openapi_url=None)


@contextmanager
def recording_proxy(engine_url: str, log: Path) -> Iterator[str]:
    """The proxy's URL; every request through it is appended to `log` (JSON lines)."""
    log.touch()
    server = serve_in_thread(RecordingProxy(engine_url, log).app())
    try:
        yield server.url
    finally:
        server.stop()
