"""Feed Inside Airbnb listings through the event intake, in-process (dev) or over HTTP (any service)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm

from listing_search.demo.airbnb_import import count_events, iter_events, load_dataset
from listing_search.operator_client import OperatorClient

log = logging.getLogger(__name__)

Sink = Callable[[list[dict[str, Any]]], None]
PAGE = 500


def _pages(events: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while page := list(islice(events, size)):
        yield page


def feed(data_dir: Path, sink: Sink, *, first_seq: int, progress: bool = True) -> tuple[int, int]:
    """Send every event of the data set to `sink`; returns (events sent, last sequenceId)."""
    ds = load_dataset(data_dir)
    total = count_events(ds)
    today = datetime.now(UTC).date()
    sent = 0
    with tqdm(total=total, unit="ev", desc=f"importing {ds.city}", disable=not progress, leave=False) as bar:
        for page in _pages(iter_events(ds, today=today, first_seq=first_seq), PAGE):
            sink(page)
            sent += len(page)
            bar.update(len(page))
    return sent, first_seq + sent - 1


class HttpSink:
    """POST pages to a running service's `/v1/events`, retrying 503 back-pressure."""

    def __init__(self, client: OperatorClient) -> None:
        self.client = client

    def __call__(self, page: list[dict[str, Any]]) -> None:
        for _ in range(60):
            resp = self.client.post_events(page)
            if resp.status_code == 503:
                time.sleep(float(resp.headers.get("Retry-After", "5")))
                continue
            if resp.status_code != 202:
                raise RuntimeError(f"intake refused a page: {resp.status_code} {resp.text[:500]}")
            counts = resp.json()["data"]
            if counts["deadLettered"]:
                log.warning("%d events of a page were dead-lettered", counts["deadLettered"])
            return
        raise RuntimeError("intake kept answering 503 (back-pressure) for 5 minutes")
