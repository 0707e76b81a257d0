"""More choice schemas than one request may facet (the API's limit is 10 keys, `price` included):
the page asks for the rest beside the search, and every filter gets its counts."""

from __future__ import annotations

import collections
from collections.abc import Iterator

import pytest
from celery import Celery
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.browser_page import Page
from tests.support.events import listing_event, new_id
from tests.support.service import Service, running_service

KEYS = [f"k{i}" for i in range(10)]  # with pub_listingType and price: 12 keys, two requests
LISTINGS = 12


def public_data(n: int) -> dict[str, str]:
    return {"listingType": "room" if n % 2 else "home", **{k: f"v{(n * (i + 1)) % 3}" for i, k in enumerate(KEYS)}}


@pytest.fixture(scope="module")
def many(engine_url: str, redis_url: str, job_worker: Celery) -> Iterator[Service]:
    with running_service(engine_url, redis_url, jobs=job_worker, storefront=True) as service:
        for key in KEYS:
            service.apply_schema("public", key, "enum", doc=f"Key {key}")
        service.send(
            [
                listing_event(n + 1, new_id(), event_type="listing/created", public_data=public_data(n))
                for n in range(LISTINGS)
            ]
        )
        service.wait_searchable()
        yield service


def test_every_choice_schema_gets_its_counts(browser: WebDriver, many: Service) -> None:
    page = Page(browser, many.url)
    shown = page.open("/")
    assert shown.state == "ready" and shown.total == LISTINGS
    # The search itself carries the first ten keys; the counts of the rest came beside it.
    assert len(shown.params["facets"].split(",")) == 10
    for key in KEYS:
        fieldset = page.find(f"#fs-pub_{key}")
        assert fieldset.is_displayed(), key
        want = collections.Counter(public_data(n)[key] for n in range(LISTINGS))
        got = {v: page.count_beside(f"pub_{key}", v) for v in want}
        assert got == dict(want), (key, got, want)
    # And they follow the search: ticking one value of the last key narrows every count.
    page.choice("pub_k9", "v0").click()
    narrowed = page.wait_query(lambda p: p.get("pub_k9") == "v0", "the search with pub_k9=v0")
    chosen = [n for n in range(LISTINGS) if public_data(n)["k9"] == "v0"]
    assert narrowed.total == len(chosen)
    want_k0 = collections.Counter(public_data(n)["k0"] for n in chosen)
    assert {v: page.count_beside("pub_k0", v) for v in want_k0} == dict(want_k0)
