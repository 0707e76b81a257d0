"""Which engine the suite ran against, and the opt-in path to a real OpenSearch container."""

from __future__ import annotations

import os

import pytest
from opensearchpy import OpenSearch

from tests.conftest import DOCKER_OPT_IN


def test_engine_speaks_opensearch(engine_url: str) -> None:
    info = OpenSearch(hosts=[engine_url]).info()
    assert info["version"]["distribution"] == "opensearch"


@pytest.mark.docker
def test_real_opensearch_container(engine_url: str) -> None:
    if not DOCKER_OPT_IN or os.environ.get("OPENSEARCH_URL"):
        pytest.skip(
            "set LISTING_SEARCH_TEST_ENGINE=docker (and no OPENSEARCH_URL) to run the suite on a real "
            "OpenSearch container through testcontainers"
        )
    info = OpenSearch(hosts=[engine_url]).info()
    assert info["cluster_name"] != "osmem"
