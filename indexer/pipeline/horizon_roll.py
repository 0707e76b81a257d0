"""The daily horizon roll: availability runs cover today .. today + 365 days, so every day the
documents built on an earlier day are recomputed.

The roll does not rewrite documents itself (it would race the stream workers): it queues a
refresh marker per listing in the event stream, and the workers recompute those documents in
order with the events, with the usual versioned writes. `pending` in status shows its progress.
"""

from __future__ import annotations

import logging

from indexer.index.live import live_index_name
from indexer.index.scan import pages_by_id
from indexer.pipeline.stream_entry import refresh_entry
from indexer.services import Services
from schemas.availability import utc_today
from schemas.index_layout import F

log = logging.getLogger(__name__)
PAGE = 1000


def roll_horizon(services: Services) -> int:
    """Queue a refresh for every listing with a plan whose horizon starts before today."""
    index = live_index_name(services.engine, services.names)
    if index is None:
        return 0
    today = utc_today().isoformat()
    query = {"bool": {"filter": [{"exists": {"field": F.PLAN_TYPE}}, {"range": {F.HORIZON_FROM: {"lt": today}}}]}}
    queued = 0
    for hits in pages_by_id(services.engine, index, size=PAGE, query=query, source=False):
        pipe = services.redis.pipeline(transaction=False)
        for hit in hits:
            pipe.xadd(services.keys.events, refresh_entry(hit["_id"]))  # type: ignore[arg-type]
        pipe.execute()
        queued += len(hits)
    if queued:
        log.info("horizon roll: %d listings queued for recomputation (horizon from %s)", queued, today)
    return queued
