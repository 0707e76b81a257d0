"""Idle keep-alive connections outlive the idle timeouts in front of the API (load balancers,
HTTP clients), so whoever reuses one is never answered "server disconnected"."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

from tests.support.service import running_service

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def ask(conn: socket.socket) -> bytes:
    conn.sendall(REQUEST)
    conn.settimeout(5)
    data = conn.recv(65536)
    assert data.startswith(b"HTTP/1.1 200"), data
    return data


def test_an_idle_connection_is_kept_past_uvicorns_five_seconds(engine_url: str, redis_url: str) -> None:
    with running_service(engine_url, redis_url) as svc:
        url = urlparse(svc.url)
        with socket.create_connection((url.hostname, url.port)) as conn:
            ask(conn)
            time.sleep(6.5)  # past uvicorn's default (5 s) and httpx's pool expiry (5 s)
            ask(conn)


def test_the_keep_alive_is_a_setting(engine_url: str, redis_url: str) -> None:
    with running_service(engine_url, redis_url, keep_alive_seconds=1) as svc:
        url = urlparse(svc.url)
        with socket.create_connection((url.hostname, url.port)) as conn:
            ask(conn)
            conn.settimeout(5)
            began = time.monotonic()
            assert conn.recv(1) == b""  # closed by the server once idle for the setting's second
            assert time.monotonic() - began < 4
