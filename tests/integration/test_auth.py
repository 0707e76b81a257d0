"""Operator endpoints need the operator credential; public search does not."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.support.events import listing_event, new_id
from tests.support.service import OPERATOR_TOKEN, Service, running_service

OPERATOR_CALLS = [("POST", "/v1/events"), ("GET", "/v1/status"), ("GET", "/v1/dead-letters")]


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
def test_operator_endpoints_refuse_without_credential(service: Service, method: str, path: str) -> None:
    body = {"data": [listing_event(1, new_id(), event_type="listing/created")]}
    kwargs = {"json": body} if method == "POST" else {}
    missing = service.public.request(method, path, **kwargs)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["errors"][0]["code"] == "unauthorized"
    wrong = service.public.request(method, path, headers={"Authorization": "Bearer wrong"}, **kwargs)
    assert wrong.status_code == 403
    not_bearer = service.public.request(method, path, headers={"Authorization": "Basic dXNlcjpwYXNz"}, **kwargs)
    assert not_bearer.status_code == 401
    assert service.operator.get("/v1/status").json()["events"]["accepted"] == 0


def test_public_search_needs_no_credential(service: Service) -> None:
    assert service.public.get("/v1/api/listings/query").status_code == 200
    assert service.public.get("/healthz").json() == {"status": "ok"}


@pytest.fixture
def tokenless(engine_url: str, redis_url: str) -> Iterator[Service]:
    with running_service(engine_url, redis_url, operator_token=None) as svc:
        yield svc


def test_operator_endpoints_disabled_when_no_token_is_configured(tokenless: Service) -> None:
    assert httpx.get(f"{tokenless.url}/v1/status").status_code == 401
    resp = httpx.get(f"{tokenless.url}/v1/status", headers={"Authorization": "Bearer anything"})
    assert resp.status_code == 403
    assert "LISTING_SEARCH_OPERATOR_TOKEN" in resp.json()["errors"][0]["details"]


@contextmanager
def every_log_record() -> Iterator[list[str]]:
    """Every record any logger emits meanwhile, at every level, formatted with its traceback."""
    lines: list[str] = []
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))

    handler = Keep(logging.DEBUG)
    loggers = [
        logging.getLogger(),
        *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
    ]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if lg is logging.getLogger() or not lg.propagate:
            lg.addHandler(handler)
    try:
        yield lines
    finally:
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
            lg.removeHandler(handler)


def test_the_operator_token_is_never_logged(service: Service) -> None:
    token = OPERATOR_TOKEN
    near_misses = [token + "x", token[:-1], token.upper(), f"{token} {token}"]
    with every_log_record() as lines:
        assert service.operator.get("/v1/status").status_code == 200
        service.send([listing_event(1, new_id(), event_type="listing/created")])
        bad = listing_event(2, new_id(), event_type="listing/created")
        bad["attributes"]["resource"]["attributes"]["state"] = "nope"
        service.send([bad])
        assert service.operator.get("/v1/dead-letters").status_code == 200
        assert service.operator.get("/v1/jobs/nope").status_code == 404
        assert service.operator.post("/v1/events", content=b"{").status_code == 400
        for guess in near_misses:
            assert service.public.get("/v1/status", headers={"Authorization": f"Bearer {guess}"}).status_code == 403
        for scheme in ("Basic", "Token", "bearer"):
            service.public.get("/v1/status", headers={"Authorization": f"{scheme} {token}"})
        service.public.get("/v1/api/listings/query", headers={"Authorization": f"Bearer {token}"})
        logging.getLogger("test").info("settings: %r", service.services.settings)
    assert len(lines) > 10  # the capture works: the client and engine log at DEBUG
    assert not [line for line in lines if token in line]


def test_public_endpoints_never_show_operator_data(service: Service) -> None:
    marker = "operator-only-7d1c"
    bad = listing_event(1, new_id(), event_type="listing/created", title=marker)
    bad["attributes"]["resource"]["attributes"]["state"] = marker
    service.send([bad, listing_event(2, new_id(), event_type="listing/created")])
    [letter] = service.operator.get("/v1/dead-letters").json()["data"]
    job = service.operator.post("/v1/jobs/reindex").json()["id"]
    service.wait_searchable()
    secrets = [marker, letter["id"], job, service.services.names.alias, service.services.settings.redis_prefix]
    responses = [
        service.public.get("/v1/api/listings/query"),
        service.public.get("/v1/api/listings/query", params={"keywords": marker}),
        service.public.get("/v1/api/listings/query", params={"sort": "nope"}),
        service.public.get("/v1/api/listings/query", params={"pub_nope": "1"}),
        service.public.get("/v1/api/listings/show", params={"id": new_id()}),
        service.public.get("/healthz"),
        service.public.get("/readyz"),
        *(service.public.request(m, p) for m, p in OPERATOR_CALLS),
        service.public.get(f"/v1/dead-letters/{letter['id']}"),
        service.public.get(f"/v1/jobs/{job}"),
        service.public.get("/v1/search-schemas"),
        service.public.get("/metrics"),
    ]
    for resp in responses:
        assert resp.status_code in (200, 400, 401, 404), resp.text
        assert not [s for s in secrets if s in resp.text], resp.text
