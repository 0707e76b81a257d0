"""The commands a newcomer runs: `listing-search dev` on embedded defaults, then `import-airbnb`."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from listing_search.runner import cli_command
from tests.support.processes import dev_process

TOKEN = "cli-test-token"


def _demo_loaded(base: str) -> bool:
    try:
        status = httpx.get(f"{base}/v1/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        body = status.json()
        return status.status_code == 200 and body["documents"] == 421 and body["pending"] == 0
    except (httpx.HTTPError, KeyError, ValueError):
        return False


@pytest.fixture(scope="module")
def dev_server(redis_url: str) -> Iterator[tuple[str, str]]:
    with dev_process(redis_url, env={"LISTING_SEARCH_OPERATOR_TOKEN": TOKEN}, ready=_demo_loaded) as dev:
        yield dev.base, dev.redis_prefix


def test_dev_serves_the_albany_demo(dev_server: tuple[str, str]) -> None:
    base, _ = dev_server
    body = httpx.get(f"{base}/v1/api/listings/query", params={"keywords": "cozy", "perPage": 3}).json()
    assert body["meta"]["totalItems"] > 0 and len(body["data"]) == 3
    assert httpx.get(f"{base}/v1/api/listings/query").json()["meta"]["totalItems"] == 384
    assert httpx.get(f"{base}/docs").status_code == 200


def test_import_airbnb_over_http_updates_in_place(dev_server: tuple[str, str]) -> None:
    base, _ = dev_server
    env = {**os.environ, "LISTING_SEARCH_OPERATOR_TOKEN": TOKEN}
    done = subprocess.run(
        [*cli_command(), "import-airbnb", "--url", base, "--wait"], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert "sent 1715 events (sequenceIds 1716..3430)" in done.stdout
    status = httpx.get(f"{base}/v1/status", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert status["documents"] == 421 and status["lastSequenceId"] == 3430 and status["deadLetters"] == 0


def test_import_airbnb_refuses_without_token(dev_server: tuple[str, str]) -> None:
    base, _ = dev_server
    env = {k: v for k, v in os.environ.items() if k != "LISTING_SEARCH_OPERATOR_TOKEN"}
    done = subprocess.run(
        [*cli_command(), "import-airbnb", "--url", base], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "operator token" in done.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LISTING_SEARCH_OPERATOR_TOKEN": TOKEN}
    return subprocess.run([*cli_command(), *args], env=env, capture_output=True, text=True, timeout=180)


def test_schema_cli_round_trip(dev_server: tuple[str, str]) -> None:
    base, _ = dev_server

    def query(**params: str) -> httpx.Response:
        return httpx.get(f"{base}/v1/api/listings/query", params=params)

    assert query(pub_guests="4").status_code == 400
    done = run_cli(
        "schema", "set", "--url", base, "--key", "guests", "--type", "long", "--default", "1", "--doc", "Guests"
    )
    assert done.returncode == 0, done.stderr
    assert "rebuild job" in done.stdout and "done" in done.stdout
    time.sleep(1.1)  # the API re-reads the live index at most once a second
    four = query(pub_guests="4")
    assert four.status_code == 200 and four.json()["meta"]["totalItems"] > 0

    listed = run_cli("schema", "list", "--url", base)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["scope", "key", "type", "default", "doc"]
    assert any(line.split()[:4] == ["public", "guests", "long", "1"] for line in lines[2:])
    assert any(line.split()[:3] == ["public", "listingType", "enum"] for line in lines[2:])

    bad = run_cli("schema", "set", "--url", base, "--key", "bad.key", "--type", "enum")
    assert bad.returncode == 1 and "key" in bad.stderr

    gone = run_cli("schema", "unset", "--url", base, "--key", "guests")
    assert gone.returncode == 0, gone.stderr
    time.sleep(1.1)
    assert query(pub_guests="4").status_code == 400

    again = run_cli("reindex", "--url", base)
    assert again.returncode == 0 and "rebuild job" in again.stdout, again.stderr
    time.sleep(1.1)
    assert query().json()["meta"]["totalItems"] == 384


def test_dead_letters_cli(dev_server: tuple[str, str]) -> None:
    base, _ = dev_server
    bad = {
        "id": "00000000-0000-4000-8000-00000000abcd",
        "type": "event",
        "attributes": {
            "sequenceId": "not a number",
            "eventType": "listing/created",
            "resourceId": "00000000-0000-4000-8000-00000000abce",
        },
    }
    resp = httpx.post(f"{base}/v1/events", json={"data": [bad]}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.json()["data"]["deadLettered"] == 1
    listed = run_cli("dead-letters", "list", "--url", base)
    assert listed.returncode == 0, listed.stderr
    assert "sequenceId" in listed.stdout and "(1 in all)" in listed.stdout
    letter_id = listed.stdout.splitlines()[2].split()[0]
    shown = run_cli("dead-letters", "show", letter_id, "--url", base)
    assert shown.returncode == 0 and '"not a number"' in shown.stdout
    replayed = run_cli("dead-letters", "replay", "--all", "--url", base)
    assert replayed.returncode == 0 and "replayed 0; still failing 1" in replayed.stdout
