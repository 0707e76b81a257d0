"""A short Redis lease kept alive by a thread while its holder works.

A lock with a long TTL outlives the process that took it: a jobs process killed in the middle
of a sync poll held the poll lock for ten minutes, and its restart skipped every tick until
then. A lease is short instead (a dead holder frees it within `ttl_ms`) and a daemon thread
renews it while the holder lives, however long one Integration API call or retry takes.
Renewal and release compare the token first, so a holder whose lease expired (a process
frozen for longer than the TTL) can neither extend nor delete its successor's.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from types import TracebackType

import redis

# Renew and release only while the key still holds our token.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """`with Lease(r, key, ttl_ms) as held:`; `held` is False when someone else holds it.

    `lost` becomes True if a renewal finds the key gone or taken: the holder should stop
    at its next safe point, since another holder may be running."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        ttl_ms: int,
        *,
        renew_every_s: float | None = None,
        token: str | None = None,
    ) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms
        # A caller's own token (a job id) lets the same job take its lease back after a redelivery,
        # while any other holder is still refused.
        self.token = token or str(uuid.uuid4())
        # Three renewals per TTL: one slow Redis round trip or GIL-bound moment does not lose it.
        self.renew_every_s = renew_every_s if renew_every_s is not None else ttl_ms / 3000
        self.held = False
        self.lost = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def __enter__(self) -> bool:
        return self.acquire()

    def acquire(self) -> bool:
        self.held = bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms)) or bool(
            self._renew(keys=[self.key], args=[self.token, self.ttl_ms])
        )
        if self.held:
            self._thread = threading.Thread(target=self._keep_alive, name=f"lease-{self.key}", daemon=True)
            self._thread.start()
        return self.held

    def _keep_alive(self) -> None:
        while not self._done.wait(self.renew_every_s):
            try:
                renewed = self._renew(keys=[self.key], args=[self.token, self.ttl_ms])
            except redis.RedisError:
                continue  # Redis is briefly away: the next renewal may still be in time
            if not renewed:
                self.lost = True
                return

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def release(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if self.held:
            # Unreleased, it expires within the TTL anyway: not worth masking the caller's error.
            with contextlib.suppress(redis.RedisError):
                self._release(keys=[self.key], args=[self.token])
