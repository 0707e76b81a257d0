"""Redis keys of the API's own (under the same deployment prefix as `indexer.redis_keys`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiKeys:
    prefix: str

    @property
    def token_secret(self) -> str:
        """The secret anonymous Flex SDK tokens are signed with, when settings give none."""
        return f"{self.prefix}auth:token-secret"

    def rate_limit(self, client: str) -> str:
        """A client's request count in the current public-search window; expires with the window."""
        return f"{self.prefix}ratelimit:{client}"

    def query_metrics(self, instance: str) -> str:
        """One API instance's query latency histogram: every worker process of `listing-search api
        --workers N` adds to it, so a scrape of any of them sees the whole instance (replicas stay
        apart)."""
        return f"{self.prefix}metrics:query:{instance}"
