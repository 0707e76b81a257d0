"""When public search cannot answer: the engine's failures, said as the contract's 503 with
`Retry-After`, within one time budget per request.

Which failures are passing is `infra.failures.transient`; this module only says them to a
storefront. A failure that is not passing (a 400 from the engine for a query we built) is a bug
and stays a 500.
"""

from __future__ import annotations

from typing import Final

from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError
from starlette.concurrency import run_in_threadpool

from indexer.index.live import LiveIndex
from indexer.services import Services
from infra.clients import Deadline
from infra.failures import transient
from search_api.errors import ApiError

RETRY: Final = {"Retry-After": "2"}


def search_deadline(services: Services) -> Deadline:
    """One budget per request for the live-index lookup and the search together: a hung engine costs
    the storefront `search_timeout_seconds`, not that twice over and not the engine client's 30 s."""
    return Deadline(services.settings.search_timeout_seconds)


def as_503(exc: Exception, deadline: Deadline, services: Services) -> ApiError | None:
    """The 503 a storefront gets for this engine failure; None when it is not a passing one."""
    if isinstance(exc, EngineConnectionError):  # ConnectionTimeout too: a read that timed out, or the budget spent
        return ApiError(503, _unreachable(exc, deadline), headers=RETRY)
    if isinstance(exc, NotFoundError):
        # The index the cached live index names was deleted under it (an operator's delete, or a
        # rebuild's clean-up within the cache's ttl): nothing a storefront did wrong, and the
        # next request resolves the live index afresh.
        services.live.invalidate()
        return ApiError(503, "the index being searched no longer exists; retry shortly", headers=RETRY)
    if transient(exc):
        return ApiError(503, "the search engine is overloaded; retry shortly", headers=RETRY)
    return None


def live_or_503(services: Services, deadline: Deadline) -> LiveIndex:
    """The live index, or the 503 (with Retry-After) that says why there is none to search."""
    try:
        live = services.live.get(deadline)
    except EngineConnectionError as exc:
        raise ApiError(503, _unreachable(exc, deadline), headers=RETRY) from exc
    except TransportError as exc:
        raise ApiError(503, "the search engine is unreachable; retry shortly", headers=RETRY) from exc
    if live is None:
        raise ApiError(503, "the index does not exist yet; retry shortly", headers=RETRY)
    return live


def _unreachable(exc: EngineConnectionError, deadline: Deadline) -> str:
    if isinstance(exc, ConnectionTimeout):
        return f"the search engine did not answer within {deadline.seconds:g} s; retry shortly"
    return "the search engine is unreachable; retry shortly"


async def live_now(services: Services, deadline: Deadline) -> LiveIndex:
    """The live index without leaving the event loop while it is cached (all but one request a
    second); a resolution, which may wait on the engine, goes to the thread pool, and so does
    the rare answer "no index yet", which `live_or_503` turns into its 503."""
    fresh, live = services.live.cached()
    if fresh and live is not None:
        return live
    return await run_in_threadpool(live_or_503, services, deadline)
