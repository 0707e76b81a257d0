"""The daily horizon roll: availability runs cover today .. today + 365 days, so every day the
documents built on an earlier day are recomputed.

The roll does not rewrite documents itself (it would race the stream workers): it queues a
refresh marker per listing in the event stream, and the workers recompute those documents in
order with the events, with the usual versioned writes. `pending` in status shows its progress.
"""

from __future__ import annotations

import logging
from typing import Any

from indexer.context import Services
from indexer.index_admin import live_index_name
from indexer.worker import REFRESH_FIELD
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
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"size": PAGE, "query": query, "sort": [{F.ID: {"order": "asc"}}], "_source": False}
        if after is not None:
            body["search_after"] = after
        hits = services.engine.search(index=index, body=body)["hits"]["hits"]
        if not hits:
            break
        pipe = services.redis.pipeline(transaction=False)
        for hit in hits:
            pipe.xadd(services.keys.events, {REFRESH_FIELD: hit["_id"].encode()})
        pipe.execute()
        queued += len(hits)
        after = hits[-1]["sort"]
    if queued:
        log.info("horizon roll: %d listings queued for recomputation (horizon from %s)", queued, today)
    return queued
