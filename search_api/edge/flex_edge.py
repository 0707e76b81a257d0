"""What the Flex SDK needs at the edge of the public API (`/v1/api/`): its bearer token, and Transit.

- `Authorization` is optional (public search needs no credential), but one that is sent must be
  good: the operator token or a token from `POST /v1/auth/token`. Anything else is a 401, which
  is what makes the SDK fetch a fresh anonymous token and retry once
  (sharetribe-flex-sdk src/interceptors/retry_with_anon_token.js).
- The SDK sends `Accept: application/transit+json` and decodes a body only when the answer's
  Content-Type starts with that (src/interceptors/transit_response.js); `X-Transit-Verbose: true`
  asks for the verbose form (src/sdk.js createHeaders). Such requests get every answer, errors
  included, re-encoded from the routes' JSON; everyone else gets the JSON untouched.

A pure ASGI middleware: the JSON path gains one header (`Vary: Accept`) and nothing else.
"""

from __future__ import annotations

import hmac
import logging

import orjson
import redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_api.auth.public_tokens import TokenIssuer
from search_api.edge import transit
from search_api.edge.cors import PUBLIC_PREFIX
from search_api.errors import error_body

log = logging.getLogger(__name__)

_JSON = b"application/json"


def reencode(body: bytes, *, verbose: bool) -> bytes:
    """A JSON answer of the API as Transit, with Flex's types."""
    return transit.dumps(transit.typed_body(orjson.loads(body)), verbose=verbose)


class FlexEdge:
    def __init__(self, app: ASGIApp, *, issuer: TokenIssuer, operator_secret: str | None) -> None:
        self.app = app
        self.issuer = issuer
        self.operator_secret = operator_secret.encode() if operator_secret else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PUBLIC_PREFIX):
            await self.app(scope, receive, send)
            return
        accept: bytes | None = None
        authorization: bytes | None = None
        verbose = False
        for name, value in scope["headers"]:
            if name == b"accept":
                accept = value
            elif name == b"authorization":
                authorization = value
            elif name == b"x-transit-verbose":
                verbose = value.strip().lower() == b"true"
        as_transit = accept is not None and transit.wants_transit(accept.decode("latin-1"))
        if authorization is not None and scope["method"] != "OPTIONS":
            try:
                problem = self._refused(authorization)
            except redis.RedisError as exc:
                # The deployment's token secret lives in Redis (unless configured): no Redis, no check.
                log.warning("cannot check a bearer token: %s", exc)
                body = error_body(503, "Authorization: the token cannot be checked right now; retry shortly")
                await self._send_error(send, body, as_transit=as_transit, verbose=verbose, status=503)
                return
            if problem is not None:
                body = error_body(401, f"Authorization: {problem}", source=["header", "Authorization"])
                await self._send_error(send, body, as_transit=as_transit, verbose=verbose)
                return
        watched: _TransitSend | _VaryAccept = _TransitSend(send, verbose) if as_transit else _VaryAccept(send)
        try:
            await self.app(scope, receive, watched)
        except Exception:
            # An unexpected error still answers in the error shape the client asked for (and, since
            # CORS sits outside, with CORS headers a browser page can read). Re-raised: Starlette's
            # outermost handler logs it and, seeing this answer started, sends nothing more.
            if not watched.started:
                body = error_body(500, "internal error; it has been logged")
                await self._send_error(send, body, as_transit=as_transit, verbose=verbose, status=500)
            raise

    def _refused(self, header: bytes) -> str | None:
        scheme, _, token = header.decode("latin-1").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "expected `Bearer <token>`"
        if self.operator_secret is not None and hmac.compare_digest(token.encode("latin-1"), self.operator_secret):
            return None
        return self.issuer.verify(token)

    async def _send_error(self, send: Send, body: bytes, *, as_transit: bool, verbose: bool, status: int = 401) -> None:
        content_type = _JSON
        if as_transit:
            body, content_type = reencode(body, verbose=verbose), transit.CONTENT_TYPE.encode()
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"vary", b"Accept"),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer error="invalid_token"'))
        elif status == 503:
            headers.append((b"retry-after", b"2"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _VaryAccept:
    """The JSON path: one header more, and a note of whether the answer has started."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            message["headers"] = [*message.get("headers", []), (b"vary", b"Accept")]
        await self.send(message)


class _TransitSend:
    """Holds back a JSON answer until its last byte, then sends it as Transit."""

    def __init__(self, send: Send, verbose: bool) -> None:
        self.send = send
        self.verbose = verbose
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.started = False  # anything sent on: until then an error may still be answered

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            is_json = any(k == b"content-type" and v.split(b";")[0].strip() == _JSON for k, v in headers)
            if not is_json:
                self.started = True
                await self.send({**message, "headers": [*headers, (b"vary", b"Accept")]})
                return
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self.chunks)
        start, self.start = self.start, None
        if body:
            body = reencode(body, verbose=self.verbose)
        headers = [(k, v) for k, v in start.get("headers", []) if k not in (b"content-type", b"content-length")]
        headers += [
            (b"content-type", transit.CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"vary", b"Accept"),
        ]
        self.started = True
        await self.send({**start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
