"""Bounds on the raw request, checked before routing or parsing: body size (413) and query-string
size (414), both in the contract's error shape and both naming what was too large.

The body is read here, up to the limit, and handed to the app from memory. Nothing behind this
middleware can therefore be made to buffer more than `max_body_bytes`, whether the client
declares a Content-Length or streams a chunked body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_api.errors import error_body


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_query_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_query_bytes = max_query_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_query_bytes:
            details = f"query: the query string is longer than {self.max_query_bytes} bytes"
            await _refuse(send, 414, details, ["query"])
            return
        declared, chunked = b"", False
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and declared in (b"", b"0"):
            # No body (RFC 9112 section 6.3: neither header means length zero), as with every
            # search: nothing to bound, so the request goes on untouched and unbuffered.
            await self.app(scope, receive, send)
            return
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(send, 413, self._too_large(), ["body"])
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees an empty body and the disconnect
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _refuse(send, 413, self._too_large(), ["body"])
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self) -> str:
        return f"body: larger than {self.max_body_bytes} bytes"


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later reads wait for the disconnect, as with the real stream

    return replayed


async def _refuse(send: Send, status: int, details: str, source: list[str]) -> None:
    payload = error_body(status, details, source=source)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    # The rest of the body is not read: ask the client not to reuse a connection it may still be writing on.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
