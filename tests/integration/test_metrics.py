"""`/metrics` in Prometheus text format."""

from __future__ import annotations

import re

from tests.support.events import listing_event, new_id
from tests.support.service import Service


def parse(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics(service: Service) -> None:
    service.send([listing_event(i, new_id(), event_type="listing/created") for i in range(1, 31)])
    bad = listing_event(31, new_id(), event_type="listing/created")
    bad["attributes"]["resource"]["attributes"]["state"] = "nope"
    service.send([bad])
    service.wait_searchable()
    for _ in range(5):
        service.query(keywords="listing")
    resp = service.operator.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    m = parse(resp.text)
    assert m["listing_search_events_accepted_total"] == 30
    assert m["listing_search_events_applied_total"] == 30
    assert m["listing_search_events_dead_lettered_total"] == 1
    assert m["listing_search_pending_events"] == 0 and m["listing_search_last_sequence_id"] == 30
    assert m["listing_search_bulk_seconds_count"] >= 1 and m["listing_search_bulk_seconds_sum"] > 0
    assert m["listing_search_query_seconds_count"] >= 5
    for hist in ("listing_search_bulk_seconds", "listing_search_query_seconds"):
        buckets = [v for k, v in m.items() if k.startswith(f"{hist}_bucket")]
        assert buckets == sorted(buckets) and buckets[-1] == m[f"{hist}_count"]
    assert m["listing_search_rebuild_running"] == 0
    assert all(re.match(r"^[a-z_]+(\{[^}]*\})?$", name) for name in m)
    assert service.public.get("/metrics").status_code == 401
