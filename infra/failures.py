"""Which failures of the engine and of Redis are passing, how long to wait before trying again,
and how a failure is said to an operator.

One place decides "is this engine failure transient?" for every caller: the stream worker (retry
the batch, acknowledge nothing), long jobs (retry the step for up to ten minutes), start-up (keep
preparing the index in the background) and public search (answer 503 with Retry-After). They
used to decide it in three places, with two backoffs.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Final, TypeVar

import redis
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import ConnectionTimeout, SSLError, TransportError

from infra.clients import Deadline
from infra.engine_connection import EngineConnection

log = logging.getLogger(__name__)
T = TypeVar("T")

# Long jobs give a passing failure this long before they fail for good: one slow moment of the
# engine must not throw away an hour of rebuild.
GIVE_UP_S: Final = 600.0
# The longest pause between two attempts of a long job.
JOB_RETRY_CAP_S: Final = 30.0


class TransientEngineError(RuntimeError):
    """The engine is unreachable or overloaded (or an index is briefly missing): retry later."""


def transient_status(status: object) -> bool:
    """An answer that says "not now": 429, any 5xx, or no HTTP status at all (opensearch-py gives
    ConnectionError and ConnectionTimeout the status "N/A")."""
    return not isinstance(status, int) or status == 429 or status >= 500


def transient(exc: BaseException) -> bool:
    """Whether trying the same engine call again later may succeed."""
    if isinstance(exc, TransientEngineError | EngineConnectionError):  # ConnectionTimeout is one too
        return True
    if isinstance(exc, TransportError):
        return transient_status(exc.status_code)
    return False


class Backoff:
    """Capped exponential backoff with jitter: attempt n waits between half and all of
    min(cap, BASE_S * 2**n), so many processes retrying one engine do not do it in step."""

    BASE_S: Final = 0.2

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.attempt = 0

    def next(self) -> float:
        delay = min(self.cap, self.BASE_S * 2**self.attempt)
        self.attempt = min(self.attempt + 1, 30)
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.attempt = 0


def retry_transient(call: Callable[[], T], what: str, *, give_up_s: float = GIVE_UP_S) -> T:
    """`call()`, tried again after each transient failure for up to `give_up_s` (long jobs)."""
    began = time.monotonic()
    backoff = Backoff(JOB_RETRY_CAP_S)
    while True:
        try:
            return call()
        except Exception as exc:
            if not transient(exc) or time.monotonic() - began > give_up_s:
                raise
            delay = backoff.next()
            log.warning("%s failed (%s); retrying in %.1fs", what, engine_failure_reason(exc), delay)
            time.sleep(delay)


def engine_failure_reason(
    exc: BaseException, deadline: Deadline | None = None, connection: EngineConnection | None = None
) -> str:
    """A short reason an engine call failed, for status, readiness and logs, naming the setting to
    change when it is one (credentials, TLS, SigV4).

    Never the exception's text: it carries the engine's URL (credentials included when the URL has
    them) and /readyz answers anyone.
    """
    text = str(exc)
    if isinstance(exc, SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        if "hostname" in text.lower() or "doesn't match" in text or "not valid for" in text:
            return "TLS: the engine's certificate is not for the host in OPENSEARCH_URL"
        given = connection is not None and connection.ca_certs
        against = "OPENSEARCH_CA_CERTS" if given else "the system's CAs (set OPENSEARCH_CA_CERTS)"
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return f"TLS: the engine's certificate does not verify against {against}"
        return "TLS handshake failed (check the https URL, OPENSEARCH_CA_CERTS, OPENSEARCH_CLIENT_CERT/KEY)"
    if isinstance(exc, ConnectionTimeout) or (isinstance(exc, EngineConnectionError) and "timed out" in text):
        after = f" after {deadline.seconds:g} s" if deadline is not None else ""
        return f"timed out{after}"
    if isinstance(exc, EngineConnectionError):
        return "connection refused" if "refused" in text.lower() else "unreachable"
    if isinstance(exc, TransportError) and isinstance(exc.status_code, int):
        status = exc.status_code
        signed = connection is not None and connection.sigv4 is not None
        if status == 401:
            if connection is not None and connection.username is None and not signed:
                return "answered HTTP 401: the engine wants credentials (OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD)"
            return "answered HTTP 401: wrong credentials (OPENSEARCH_USERNAME/PASSWORD, or those in OPENSEARCH_URL)"
        if status == 403 and signed:
            return (
                "answered HTTP 403: the signed request was refused (AWS_REGION, OPENSEARCH_SIGV4_SERVICE or the role)"
            )
        if status == 403:
            return "answered HTTP 403: these credentials may not do this (the user's role)"
        if status == 400 and "SSL certificate" in text:  # nginx's answer when mutual TLS wants one
            return "answered HTTP 400: the engine wants a client certificate (OPENSEARCH_CLIENT_CERT/KEY)"
        return f"answered HTTP {status}"
    if isinstance(exc, TransientEngineError):
        return "unavailable"
    return f"failed ({type(exc).__name__})"


def configuration_failure(exc: BaseException) -> bool:
    """A failure that waiting alone will not cure but the operator can (credentials, TLS): at start
    it is logged and retried like a passing one, so the process stays up and /readyz says why."""
    if isinstance(exc, SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return True
    return isinstance(exc, TransportError) and exc.status_code in (401, 403)


def redis_failure_reason(exc: BaseException, timeout: float) -> str:
    """The same for Redis: redis-py's messages name the host and port, so they are not passed on."""
    if isinstance(exc, redis.TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, redis.AuthenticationError | redis.ResponseError):  # before ConnectionError, its base
        return f"refused the command ({type(exc).__name__})"
    if isinstance(exc, redis.ConnectionError):
        return "connection refused" if "refused" in str(exc).lower() else "unreachable"
    return f"failed ({type(exc).__name__})"
