"""Retrying an engine call that failed for a passing reason (timeout, refused connection,
429, 5xx), for long jobs: one slow moment of the engine must not throw away an hour of rebuild."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from opensearchpy.exceptions import TransportError

from indexer.worker import TransientEngineError

log = logging.getLogger(__name__)
T = TypeVar("T")

GIVE_UP_S = 600.0
CAP_S = 30.0


def transient(exc: Exception) -> bool:
    if isinstance(exc, TransientEngineError):
        return True
    if isinstance(exc, TransportError):
        status = exc.status_code
        # ConnectionError and ConnectionTimeout carry "N/A": no answer at all.
        return not isinstance(status, int) or status == 429 or status >= 500
    return False


def retry_transient(call: Callable[[], T], what: str, *, give_up_s: float = GIVE_UP_S) -> T:
    began = time.monotonic()
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if not transient(exc) or time.monotonic() - began > give_up_s:
                raise
            delay = random.uniform(0.5, 1.0) * min(CAP_S, 0.5 * 2**attempt)
            attempt = min(attempt + 1, 20)
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            time.sleep(delay)
