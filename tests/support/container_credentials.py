"""A stand-in for the container credentials endpoint an AWS task role is read from (Amazon ECS
and EKS Pod Identity), which botocore's standard credential chain asks when
AWS_CONTAINER_CREDENTIALS_FULL_URI points at a loopback address. Its answer is the documented one
(Amazon ECS Developer Guide, "Task IAM role": `AccessKeyId`, `SecretAccessKey`, `Token`,
`Expiration`, `RoleArn`); the keys it serves can be rotated while it runs, as AWS rotates a
role's temporary credentials."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from listing_search.runner import serve_in_thread


@dataclass
class ContainerCredentials:
    access_key: str
    secret: str
    token: str
    # Close enough to expiry that botocore refreshes before it signs (its advisory window is 15 min).
    lifetime: timedelta = timedelta(minutes=11)
    served: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rotate(self, access_key: str, secret: str, token: str) -> None:
        with self._lock:
            self.access_key, self.secret, self.token = access_key, secret, token

    async def _answer(self, _: Request) -> JSONResponse:
        with self._lock:
            self.served += 1
            body = {
                "RoleArn": "arn:aws:iam::123456789012:role/listing-search",
                "AccessKeyId": self.access_key,
                "SecretAccessKey": self.secret,
                "Token": self.token,
                "Expiration": (datetime.now(UTC) + self.lifetime).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        return JSONResponse(body)

    def app(self) -> FastAPI:
        return FastAPI(routes=[Route("/v2/credentials", self._answer, methods=["GET"])], openapi_url=None)


@contextmanager
def container_credentials(access_key: str, secret: str, token: str) -> Iterator[tuple[ContainerCredentials, str]]:
    """The endpoint and the URL to put in AWS_CONTAINER_CREDENTIALS_FULL_URI."""
    endpoint = ContainerCredentials(access_key, secret, token)
    server = serve_in_thread(endpoint.app())
    try:
        yield endpoint, f"{server.url}/v2/credentials"
    finally:
        server.stop()
