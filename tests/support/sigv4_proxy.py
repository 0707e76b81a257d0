"""A stand-in for Amazon OpenSearch Service's request authentication: every request must carry an
AWS Signature Version 4 that this proxy recomputes with botocore from what arrived on the wire
(method, path, query, the signed headers, and the body's SHA-256), for a key it knows, scoped to
its region and service; anything else is answered 403 as AWS does. Good requests pass on to the
engine behind it.

What it checks follows AWS's own description of SigV4 (IAM User Guide, "Create a signed AWS API
request" and "Elements of an AWS API request signature"): the Authorization header's credential
scope (date/region/service/aws4_request), SignedHeaders including host and x-amz-date, the
x-amz-content-sha256 payload hash matching the body actually sent, the session token when the
key has one, and a request time within 5 minutes. Keys can be rotated while it runs, as an IAM
role's temporary credentials are."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlencode

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from listing_search.runner import serve_in_thread

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_SKEW_SECONDS = 300


@dataclass
class SigV4Proxy:
    engine_url: str
    region: str
    service: str = "es"
    keys: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # access key -> (secret, token)
    verified: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, body bytes
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, why
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: httpx.AsyncClient | None = None

    def accept(self, access_key: str, secret: str, token: str | None = None) -> None:
        with self._lock:
            self.keys[access_key] = (secret, token)

    def revoke(self, access_key: str) -> None:
        with self._lock:
            self.keys.pop(access_key, None)

    def check(self, request: Request, body: bytes) -> str | None:
        """Why the request's signature does not hold, or None when it does."""
        header = request.headers.get("authorization", "")
        m = _AUTH.match(header)
        if m is None:
            return "Authorization header requires a SigV4 signature (AWS4-HMAC-SHA256 Credential=...)"
        with self._lock:
            known = self.keys.get(m["key"])
        if known is None:
            return "The security token included in the request is invalid."
        secret, token = known
        if m["region"] != self.region or m["service"] != self.service:
            return f"Credential should be scoped to a valid region and service ({self.region}/{self.service})"
        signed = m["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return "SignedHeaders must include host and x-amz-date"
        amz_date = request.headers.get("x-amz-date", "")
        try:
            moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "X-Amz-Date is missing or malformed"
        if abs((datetime.now(UTC) - moment).total_seconds()) > MAX_SKEW_SECONDS or amz_date[:8] != m["date"]:
            return "Signature expired or not yet current"
        if token is not None and request.headers.get("x-amz-security-token") != token:
            return "The security token included in the request is invalid."
        if token is not None and "x-amz-security-token" not in signed:
            return "x-amz-security-token must be signed"
        claimed = request.headers.get("x-amz-content-sha256")
        if claimed is not None and claimed != hashlib.sha256(body).hexdigest():
            return "The provided 'x-amz-content-sha256' header does not match what was computed."
        # The canonical query string is built from the decoded parameters, each URI-encoded (the
        # SigV4 rules): a client may send `a,b` and sign `a%2Cb`, as opensearch-py's signer does.
        query = urlencode(parse_qsl(request.url.query, keep_blank_values=True), quote_via=quote)
        url = f"{request.url.scheme}://{request.headers['host']}{request.url.path}" + (f"?{query}" if query else "")
        headers = {name: request.headers[name] for name in signed if name in request.headers}
        if len(headers) != len(signed):
            return "a header named in SignedHeaders is missing"
        aws = AWSRequest(method=request.method, url=url, data=body, headers=headers)
        aws.context["timestamp"] = amz_date
        auth = SigV4Auth(Credentials(m["key"], secret, token), self.service, self.region)
        canonical = auth.canonical_request(aws)
        expected = auth.signature(auth.string_to_sign(aws, canonical), aws)
        if not hmac.compare_digest(expected, m["signature"]):
            return "The request signature we calculated does not match the signature you provided."
        return None

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        why = self.check(request, body)
        if why is not None:
            with self._lock:
                self.refused.append((request.method, request.url.path, why))
            return JSONResponse({"message": why}, status_code=403)
        with self._lock:
            self.verified.append((request.method, request.url.path, len(body)))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS | {"authorization"}}
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.engine_url, timeout=120)
        upstream = await self._client.request(
            request.method, request.url.path, params=request.query_params, content=body, headers=headers
        )
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
        return Response(upstream.content, status_code=upstream.status_code, headers=out)

    def app(self) -> FastAPI:
        methods = ["GET", "POST", "PUT", "DELETE", "HEAD"]
        return FastAPI(routes=[Route("/{path:path}", self._forward, methods=methods)], openapi_url=None)


@contextmanager
def sigv4_proxy(engine_url: str, *, region: str, service: str = "es") -> Iterator[tuple[SigV4Proxy, str]]:
    proxy = SigV4Proxy(engine_url, region, service)
    server = serve_in_thread(proxy.app())
    try:
        yield proxy, server.url
    finally:
        server.stop()
