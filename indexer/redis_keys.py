"""Redis key names, all under one prefix so deployments and test runs never collide."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    @property
    def events(self) -> str:
        """The intake stream. Entries are deleted once settled, so its length is the backlog."""
        return f"{self.prefix}events"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}dead-letters"

    @property
    def stats(self) -> str:
        return f"{self.prefix}stats"

    group: str = "indexer"

    def all_patterns(self) -> list[str]:
        return [f"{self.prefix}*"]
