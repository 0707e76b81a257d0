"""The storefront's server side over HTTP, no browser needed (these run wherever the suite runs):
the page and its files, the `storefront` setting (off for `api`, on for `dev`), and the public
search-schema list the page draws its filters from."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from infra.settings import Settings
from listing_search.runner import serve_in_thread
from search_api.app import create_app
from search_api.search.public_schemas import words
from tests.support.processes import dev_process
from tests.support.service import Service

PAGE_FILES = (
    "storefront/app.js",
    "storefront/style.css",
    "storefront/vendor/leaflet/leaflet.js",
    "storefront/vendor/leaflet/leaflet.css",
    "storefront/vendor/leaflet/LICENSE",
)


def test_page_and_its_files(storefront: Service) -> None:
    base = storefront.url
    for path in ("/", "/search"):
        page = httpx.get(base + path)
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert '<script defer src="storefront/app.js">' in page.text
    assert httpx.head(f"{base}/").status_code == 200
    # A reload revalidates instead of downloading again.
    etag = httpx.get(f"{base}/").headers["etag"]
    assert httpx.get(f"{base}/", headers={"If-None-Match": etag}).status_code == 304
    for name in PAGE_FILES:
        resp = httpx.get(f"{base}/{name}")
        assert resp.status_code == 200, name
        assert resp.headers["x-content-type-options"] == "nosniff"
    assert "BSD 2-Clause" in httpx.get(f"{base}/storefront/vendor/leaflet/LICENSE").text
    assert "Leaflet 1.9.4" in httpx.get(f"{base}/storefront/vendor/leaflet/leaflet.js").text[:200]
    # Only the listed files, never anything else in the package.
    for name in ("index.html", "../routes/storefront.py", "vendor/leaflet/leaflet.js.map", "nope"):
        resp = httpx.get(f"{base}/storefront/{name}")
        assert resp.status_code == 404 and resp.json()["errors"][0]["status"] == 404, name


def test_the_page_is_off_unless_asked_for(storefront: Service) -> None:
    """`listing-search api` reads Settings() as they come: no page, `/` is a 404 in the error shape.
    The public schema list stays (it is API, not page)."""
    assert Settings().storefront is False
    off = dataclasses.replace(
        storefront.services, settings=storefront.services.settings.model_copy(update={"storefront": False})
    )
    server = serve_in_thread(create_app(off, ensure_index_on_start=False))
    try:
        for path in ("/", "/search", "/storefront/app.js"):
            resp = httpx.get(server.url + path)
            assert resp.status_code == 404 and resp.json()["errors"][0]["code"] == "not-found", path
        assert httpx.get(f"{server.url}/v1/api/search-schemas").status_code == 200
    finally:
        server.stop()


def test_the_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTING_SEARCH_STOREFRONT", "true")
    assert Settings().storefront is True
    monkeypatch.setenv("LISTING_SEARCH_STOREFRONT", "false")
    assert Settings().storefront is False


def test_public_search_schemas_list_only_what_a_storefront_needs(storefront: Service) -> None:
    resp = httpx.get(f"{storefront.url}/v1/api/search-schemas")  # no credential
    assert resp.status_code == 200
    body = resp.json()
    assert body == {
        "data": [
            {
                "key": "amenities",
                "scope": "public",
                "type": "multi-enum",
                "param": "pub_amenities",
                "label": "Amenities",
            },
            {
                "key": "instantBookable",
                "scope": "public",
                "type": "boolean",
                "param": "pub_instantBookable",
                "label": "Instant booking",
            },
            {
                "key": "listingType",
                "scope": "public",
                "type": "enum",
                "param": "pub_listingType",
                "label": "Listing type",
            },
        ]
    }
    # Every listed filter is one the search accepts.
    for item in body["data"]:
        facet = storefront.public.get("/v1/api/listings/query", params={"facets": item["param"], "perPage": 1})
        assert facet.status_code == 200, facet.text


def test_vendored_leaflet_is_the_npm_release_unchanged() -> None:
    """The hashes in VENDORED.md are those of the files shipped: nobody edits a vendored file by accident."""
    folder = resources.files("search_api.pages").joinpath("storefront", "vendor", "leaflet")
    noted = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", folder.joinpath("VENDORED.md").read_text(), re.M))
    assert set(noted) == {"leaflet.js", "leaflet.css", "LICENSE"}
    for name, digest in noted.items():
        assert hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest() == digest, name


def test_schema_labels_in_words() -> None:
    assert words("listingType") == "Listing type"
    assert words("instant_bookable") == "Instant bookable"
    assert words("superhost") == "Superhost"
    assert words("maxGuests2") == "Max guests2"


@pytest.fixture(scope="module")
def dev_without_demo(redis_url: str) -> Iterator[tuple[str, Path]]:
    """`listing-search dev --no-demo` as a newcomer starts it (no storefront setting in the environment)."""
    with dev_process(redis_url, args=("--no-demo",), unset=("OPENSEARCH_URL", "LISTING_SEARCH_STOREFRONT")) as dev:
        yield dev.base, dev.log_path


def test_dev_serves_the_page_by_default(dev_without_demo: tuple[str, Path]) -> None:
    base, log = dev_without_demo
    page = httpx.get(f"{base}/")
    assert page.status_code == 200 and "storefront/app.js" in page.text
    assert f"open:   {base}/" in log.read_text()  # the banner points a newcomer at it
