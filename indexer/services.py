"""The long-lived clients and names every indexer entry point (worker, jobs, API) needs."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
from opensearchpy import OpenSearch

from indexer.index.live import LiveIndexCache
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
    live: LiveIndexCache = field(init=False)

    def __post_init__(self) -> None:
        self.live = LiveIndexCache(self.engine, self.names)

    @classmethod
    def from_settings(cls, settings: Settings, *, engine_url: str) -> Services:
        return cls(
            settings=settings,
            engine=opensearch_client(engine_url, settings=settings),
            redis=redis_client(settings.redis_url),
            names=IndexNames(settings.index_prefix),
            keys=RedisKeys(settings.redis_prefix),
        )
