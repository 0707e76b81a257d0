"""An optional per-client limit on public search: a fixed window per client in Redis, shared by
every API process. Off unless `rate_limit_requests` is set.

The client is the socket peer. X-Forwarded-For is read only when that peer is one of
`trusted_proxies`, and then from the right: the first address a trusted proxy did not add is
the client. A client can therefore put anything in the header and still not choose its bucket.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

import redis
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from infra.settings import Settings
from search_api.errors import ApiError
from search_api.redis_keys import ApiKeys

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Count this request; start the window on the first one. Returns {count, ms left in the window}.
WINDOW_LUA = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""
MAX_CLIENT_CHARS = 64
WARN_EVERY_SECONDS = 60.0


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[Network]) -> str:
    if peer is None:
        return "unknown"
    if not trusted or not forwarded_for or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop[:MAX_CLIENT_CHARS]
    return hops[0][:MAX_CLIENT_CHARS] if hops else peer


def _within(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


class RateLimiter:
    def __init__(self, client: redis.Redis, keys: ApiKeys, settings: Settings) -> None:
        self.redis = client
        self.keys = keys
        self.limit = settings.rate_limit_requests
        self.window_ms = settings.rate_limit_window_seconds * 1000
        self.trusted = [ipaddress.ip_network(entry, strict=False) for entry in settings.trusted_proxies]
        self._script = client.register_script(WINDOW_LUA)
        self._last_warning = 0.0

    def check(self, request: Request) -> None:
        """Raise a 429 with Retry-After when this client has used up its window."""
        peer = request.client.host if request.client else None
        who = client_address(peer, request.headers.get("x-forwarded-for"), self.trusted)
        try:
            result: Any = self._script(keys=[self.keys.rate_limit(who)], args=[self.window_ms])
        except redis.RedisError as exc:
            # Search does not need Redis to answer, so an outage must not take it down: fail open.
            if time.monotonic() - self._last_warning > WARN_EVERY_SECONDS:
                self._last_warning = time.monotonic()
                log.warning("rate limit not applied: redis unavailable (%s)", exc)
            return
        count, ms_left = int(result[0]), int(result[1])
        if count > self.limit:
            retry = max(1, -(-ms_left // 1000))
            raise ApiError(
                429,
                f"more than {self.limit} searches in {self.window_ms // 1000} s from this client; retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )


async def rate_limited(request: Request) -> None:
    """Dependency of the public search routes. Async, so that with no limit configured it costs
    nothing: a `def` dependency is a trip through the thread pool on every search (issue 17).
    The check itself talks to Redis, so it runs in the pool."""
    limiter: RateLimiter | None = request.app.state.rate_limiter
    if limiter is not None:
        await run_in_threadpool(limiter.check, request)
