"""Sharetribe's published JavaScript SDK (`sharetribe-flex-sdk`, pinned in tests/sdk/) against a
running service with the Albany data: the proof that a Flex storefront can point its SDK here.

The Node test (tests/sdk/sdk.test.js) compares everything the SDK decodes with this service's
JSON answer for the same parameters, and asserts the SDK's own types (UUID, Money, LatLng, Date).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from search_api.auth.public_tokens import TokenIssuer
from search_api.redis_keys import ApiKeys
from tests.support.albany_events import albany_events
from tests.support.sdk import SDK_DIR, node_or_skip
from tests.support.service import OPERATOR_TOKEN, Service, running_service

IMAGES = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"image:{i}")) for i in range(3)]


def tricky_listing(template: dict[str, Any]) -> dict[str, Any]:
    """A listing whose strings Transit must escape, with images in a known order."""
    event = copy.deepcopy(template)
    lid = str(uuid.uuid5(uuid.NAMESPACE_URL, "listing:sdk-tricky"))
    attrs = event["attributes"]
    attrs["sequenceId"] = 10_000_000
    attrs["resourceId"] = lid
    resource = attrs["resource"]
    resource["id"] = lid
    resource["attributes"]["title"] = "~tilde ^caret `tick title"
    resource["attributes"]["publicData"] = {
        **resource["attributes"]["publicData"],
        "note": "^ not a map",
        "`weird key": "~:not a keyword",
        "nested": {"list": ["~u0000", "^0", "`x", 2**40, None, True, 0.25]},
    }
    resource["relationships"] = {
        **resource.get("relationships", {}),
        "images": {"data": [{"id": i, "type": "image"} for i in IMAGES]},
    }
    return event


@pytest.fixture(scope="module")
def albany(engine_url: str, redis_url: str, job_worker: Celery) -> Iterator[tuple[Service, str]]:
    events = albany_events()
    extra = tricky_listing(next(e for e in events if e["attributes"]["eventType"] == "listing/created"))
    with running_service(engine_url, redis_url, jobs=job_worker) as service:
        for i in range(0, len(events), 500):
            service.send(events[i : i + 500])
        service.send([extra])
        service.wait_searchable(timeout=120)
        service.apply_schema("public", "amenities", "multi-enum")
        service.apply_schema("public", "instantBookable", "boolean")
        yield service, extra["attributes"]["resourceId"]


def expired_token(svc: Service) -> str:
    issuer = TokenIssuer(svc.services.settings, svc.services.redis, ApiKeys(svc.services.keys.prefix))
    token = issuer.issue("sdk-test", now=time.time() - 2 * svc.services.settings.token_ttl_seconds)
    access: str = token["access_token"]
    assert issuer.verify(access) == "the token has expired", issuer.verify(access)
    return access


def test_the_published_flex_sdk_reads_what_the_json_api_answers(albany: tuple[Service, str]) -> None:
    node = node_or_skip()
    svc, tricky = albany
    env = {
        **os.environ,
        "LS_URL": svc.url,
        "LS_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "LS_TRICKY_LISTING": tricky,
        "LS_IMAGE_IDS": json.dumps(IMAGES),
        # Signed by this deployment's own secret, issued two lifetimes ago: expired, nothing else wrong.
        "LS_EXPIRED_TOKEN": expired_token(svc),
    }
    run = subprocess.run(
        [node, "--test", "--test-reporter=spec", "sdk.test.js"],
        cwd=SDK_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(run.stdout[-20000:])
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]


def test_the_documented_storefront_example_runs(albany: tuple[Service, str]) -> None:
    """docs/storefront.md's runnable example, as a reader runs it (without a Flex client id)."""
    node = node_or_skip()
    svc, _ = albany
    example = SDK_DIR.parents[1] / "docs" / "examples" / "storefront-search.js"
    env = {**os.environ, "NODE_PATH": str(SDK_DIR / "node_modules"), "SEARCH_URL": svc.url}
    env.pop("FLEX_CLIENT_ID", None)
    run = subprocess.run([node, str(example), "cozy"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    expected = svc.query(keywords="cozy", perPage=12)
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"{expected['meta']['totalItems']} listings; page 1 of "), run.stdout
    assert [line[2:].rsplit(" (", 1)[0] for line in lines[1:]] == [
        listing["attributes"]["title"] for listing in expected["data"]
    ]
