"""CORS for storefronts, on the public search endpoints (`/v1/api/`) and the SDK's token endpoint.

Operator endpoints never answer a browser's cross-origin request: their credential must not be
usable from a web page. The Flex SDK sends its anonymous token in `Authorization` on every GET
and asks `POST /v1/auth/token` for one, so both are allowed from the configured origins. No
cookie is ever honoured, so `Access-Control-Allow-Credentials` is never sent. A refused
preflight is a 403 in the contract's error shape rather than Starlette's plain text.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_api.errors import error_body

PUBLIC_PREFIX = "/v1/api/"
TOKEN_PATH = "/v1/auth/token"
ALLOWED_METHODS = ("GET", "HEAD")
TOKEN_METHODS = ("POST",)
PREFLIGHT_MAX_AGE = 600


class PublicCors:
    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not self.origins or not (path.startswith(PUBLIC_PREFIX) or path == TOKEN_PATH):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.any_origin or origin in self.origins
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            methods = TOKEN_METHODS if path == TOKEN_PATH else ALLOWED_METHODS
            await self._preflight(send, origin, allowed, headers, methods)
            return
        if not allowed:
            await self.app(scope, receive, send)  # no CORS headers: the browser keeps the answer from the page
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                allow = self._allow(origin)
                # Added to, not replaced: the Flex edge's `Vary: Accept` must survive, or a cache
                # could hand a JSON client the Transit answer (or the reverse).
                vary = allow.pop("Vary", None)
                out.update(allow)
                if vary is not None:
                    out.add_vary_header(vary)
                out["Access-Control-Expose-Headers"] = "Retry-After, WWW-Authenticate"
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _allow(self, origin: str) -> dict[str, str]:
        if self.any_origin:
            return {"Access-Control-Allow-Origin": "*"}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    async def _preflight(
        self, send: Send, origin: str, allowed: bool, headers: Headers, methods: tuple[str, ...]
    ) -> None:
        method = headers["access-control-request-method"].upper()
        if not allowed:
            await _answer(send, 403, error_body(403, f"Origin: {origin!r} is not allowed", source=["header", "Origin"]))
            return
        if method not in methods:
            details = f"Access-Control-Request-Method: this endpoint answers {' and '.join(methods)} only"
            await _answer(send, 403, error_body(403, details, source=["header", "Access-Control-Request-Method"]))
            return
        extra = {
            **self._allow(origin),
            "Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
        }
        requested = headers.get("access-control-request-headers")
        if requested:
            # Authorization (the SDK's token), X-Transit-Verbose, Content-Type of the token form: none
            # lets a page see more than public data, since no cookie is ever honoured.
            extra["Access-Control-Allow-Headers"] = requested
        await _answer(send, 204, b"", extra)


async def _answer(send: Send, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
