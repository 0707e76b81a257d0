"""The app's long-lived clients, built once at start-up and reached through a typed dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis
from fastapi import Depends, Request
from opensearchpy import OpenSearch

from indexer.redis_keys import RedisKeys
from infra.clients import opensearch_client, redis_client
from infra.settings import Settings
from schemas.index_layout import IndexNames


@dataclass
class Services:
    settings: Settings
    engine: OpenSearch
    redis: redis.Redis
    names: IndexNames
    keys: RedisKeys

    @classmethod
    def from_settings(cls, settings: Settings, *, engine_url: str) -> Services:
        return cls(
            settings=settings,
            engine=opensearch_client(engine_url),
            redis=redis_client(settings.redis_url),
            names=IndexNames(settings.index_prefix),
            keys=RedisKeys(settings.redis_prefix),
        )


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
