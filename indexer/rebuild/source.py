"""Where a rebuild round's documents come from, when not from the live index.

A rebuild copies the live index by default. A round can instead be filled from another source
of truth: the Sharetribe re-sync (`indexer.sharetribe.resync.ResyncRound`) reads the marketplace
through the Integration API. The rebuild knows only this protocol; whoever runs rebuilds (the jobs
process) hands it the source, so the rebuild never imports the sync.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from indexer.services import Services

# (listing id, stored source, version) of each document to write to the new index.
Docs = list[tuple[str, dict[str, Any], int]]
Write = Callable[[Docs], None]


class SourceRound(Protocol):
    def fill(self, live_name: str, write: Write) -> int:
        """Write every document of the new index version; returns how many listings were read."""
        ...

    def catch_up(self, ids: list[str], live_name: str, target: str) -> Docs:
        """The documents to write again for listings the workers changed in the live index meanwhile."""
        ...


# Makes the round of one rebuild job: (services, job id) -> round.
RoundSource = Callable[[Services, str], SourceRound]
