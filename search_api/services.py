"""The app's long-lived clients, reached through a typed dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from indexer.context import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

__all__ = ["Services", "ServicesDep", "get_services"]
