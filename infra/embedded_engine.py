"""The embedded engine: osmem-server, an in-memory OpenSearch-compatible server.

Used by `listing-search dev` and the test suite when OPENSEARCH_URL is unset. It is a stand-in
for development and tests only: no persistence, and not representative of OpenSearch's speed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class EmbeddedEngine:
    url: str
    version: str
    _server: Any

    @property
    def pid(self) -> int:
        return int(self._server.pid)

    def close(self) -> None:
        self._server.close()


def start_embedded_engine() -> EmbeddedEngine:
    try:
        from osmem_server import OsmemServer
    except ImportError as exc:  # pragma: no cover - it is a dependency, but say what to do
        raise RuntimeError(
            "OPENSEARCH_URL is unset and osmem-server is not installed: `pip install osmem-server` "
            "or point OPENSEARCH_URL at a cluster"
        ) from exc
    # The server exits when this process does (it watches our pid), so it never outlives us.
    server = OsmemServer.start(japanese=False)
    log.info("embedded engine osmem-server %s at %s (in memory, for dev and tests only)", server.version, server.url)
    return EmbeddedEngine(url=server.url, version=server.version, _server=server)
