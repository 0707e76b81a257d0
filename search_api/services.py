"""The app's long-lived clients, reached through a typed dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from indexer.services import Services


async def get_services(request: Request) -> Services:
    # Async: it only reads app state, and a `def` dependency costs a thread-pool hop per request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

__all__ = ["ServicesDep", "get_services"]
