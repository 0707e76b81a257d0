"""The engine as a marketplace really has it: behind TLS with a private CA and basic auth (Debian's
nginx), with mutual TLS, or signing every request with AWS SigV4 (a proxy that recomputes each
signature with botocore), and every request body the service sends checked against OpenSearch's
own API specification.

The engine behind every front is the real stand-in (osmem-server); the fronts are real processes
and real servers, never a patched client."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.rebuild import schema_change
from indexer.rebuild.job import run_rebuild
from listing_search.runner import cli_command, free_port
from schemas.search_schema import SearchSchema
from tests.support.container_credentials import container_credentials
from tests.support.events import listing_event, new_id
from tests.support.opensearch_spec import body_errors
from tests.support.processes import stop
from tests.support.recording_proxy import read_log, recording_proxy
from tests.support.service import OPERATOR_TOKEN, Service, running_service
from tests.support.sigv4_proxy import sigv4_proxy
from tests.support.tls_front import TlsFront, tls_front

ROOT = Path(__file__).resolve().parents[2]
# The API modules whose whole suites run again through the TLS front: search, facets, ingest,
# availability, geo and stock, and search schemas (with their rebuilds).
THROUGH_THE_FRONT = (
    "tests/integration/test_query_api.py",
    "tests/integration/test_facets.py",
    "tests/integration/test_intake.py",
    "tests/integration/test_availability_api.py",
    "tests/integration/test_geo_stock.py",
    "tests/integration/test_search_schemas.py",
)
# Each operation the project sends with a body, as the front's access log and the spec name it.
SENT_OPERATIONS = ("_search", "_count", "_bulk", "_mget", "_index_template", "_aliases", "_mapping", "create index")
NON_ASCII = "Café Zürich — 東京の部屋 🏠"


def _operation(method: str, path: str) -> str:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if last.startswith("_"):
        return last
    if "/_index_template/" in path:
        return "_index_template"
    if method == "PUT" and path.count("/") == 1:
        return "create index"
    return f"{method} {last}"


@pytest.fixture(scope="module")
def front(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsFront, Path]]:
    """nginx with TLS and basic auth, in front of a proxy that writes down every request, in front
    of the engine."""
    folder = tmp_path_factory.mktemp("tls-front")
    log = folder / "requests.jsonl"
    with recording_proxy(engine_url, log) as recorder, tls_front(recorder.removeprefix("http://"), folder) as tls:
        yield tls, log


def test_the_api_suites_pass_through_a_tls_front_and_every_body_meets_the_spec(
    front: tuple[TlsFront, Path], redis_url: str
) -> None:
    tls, log = front
    before = len(tls.statuses())  # the front's own start-up probe came without credentials
    env = {
        **os.environ,
        # The password (non-ASCII, with a colon) rides in the URL, the CA is the test's own.
        "OPENSEARCH_URL": tls.url(),
        "OPENSEARCH_CA_CERTS": str(tls.pki.ca),
        "REDIS_URL": redis_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", *THROUGH_THE_FRONT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    statuses = Counter(tls.statuses()[before:])
    # Every request came in through TLS with the right credentials: nothing was refused.
    assert statuses[401] == 0 and statuses[403] == 0, statuses
    assert sum(statuses.values()) > 1000, statuses

    recorded = read_log(log)
    seen = Counter(_operation(r.method, r.path) for r in recorded if r.body)
    assert all(seen[op] > 0 for op in SENT_OPERATIONS), seen
    problems = []
    checked = 0
    for request in recorded:
        if not request.body:
            continue
        checked += 1
        for error in body_errors(request.method, request.path, request.body):
            problems.append(f"{request.method} {request.path}: {error}")
    assert checked > 500
    assert not problems, f"{len(problems)} bodies the specification refuses:\n" + "\n".join(sorted(set(problems))[:40])


def _started(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen(
            [*cli_command(), *args], env=env, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )


def _lines_saying(log: Path, needle: str) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if needle in line]


@pytest.mark.parametrize("command", ["api", "worker", "jobs", "dev"])
def test_a_wrong_setting_is_said_at_start_once_per_attempt(
    command: str, front: tuple[TlsFront, Path], redis_url: str, tmp_path: Path
) -> None:
    """Wrong credentials, then a CA the certificate does not verify against: each process says what
    failed and which setting to change, one line per attempt, keeps trying, and never shows the
    password; the API's /readyz says it too."""
    tls, _ = front
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENSEARCH_", "LISTING_SEARCH_"))} | {
        "REDIS_URL": redis_url,
        "LISTING_SEARCH_REDIS_PREFIX": f"lstest-wrong-{new_id()[:8]}:",
        "LISTING_SEARCH_INDEX_PREFIX": f"t-wrong-{new_id()[:8]}",
        "LISTING_SEARCH_OPERATOR_TOKEN": OPERATOR_TOKEN,
    }
    args = {"api": ["api", "--port", str(port), "--workers", "1"], "worker": ["worker", "--name", "w"],
            "jobs": ["jobs"], "dev": ["dev", "--port", str(port), "--no-demo"]}[command]  # fmt: skip
    cases = [
        (
            {"OPENSEARCH_URL": tls.url(password="Not-the-password"), "OPENSEARCH_CA_CERTS": str(tls.pki.ca)},
            "answered HTTP 401: wrong credentials",
        ),
        (
            {"OPENSEARCH_URL": tls.url(), "OPENSEARCH_CA_CERTS": str(tls.pki.other_ca)},
            "TLS: the engine's certificate does not verify against OPENSEARCH_CA_CERTS",
        ),
    ]
    for extra, reason in cases:
        log = tmp_path / f"{command}-{len(reason)}.log"
        proc = _started(args, base | extra, log)
        try:
            deadline = time.monotonic() + 60
            while len(_lines_saying(log, reason)) < 2:
                assert proc.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, f"{command} never said {reason!r} twice:\n{log.read_text()[-3000:]}"
                time.sleep(0.1)
            if command == "api":  # it serves meanwhile (after a few seconds' wait for the engine)
                while True:
                    try:
                        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
                        break
                    except httpx.ConnectError:
                        assert time.monotonic() < deadline + 30, "the API never served"
                        time.sleep(0.2)
                assert ready.status_code == 503 and reason in ready.json()["engine"], ready.text
        finally:
            stop(proc, grace=10)
        text = log.read_text(errors="replace")
        assert tls.password not in text and "p%C3%A4ssword" not in text and "Not-the-password" not in text
        assert "Traceback" not in text, text[-3000:]


def test_mutual_tls_and_the_one_warning_of_an_unverified_connection(
    engine_url: str, redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with tls_front(engine_url.removeprefix("http://"), tmp_path / "mtls", client_certs=True) as tls:
        certs = {
            "opensearch_ca_certs": str(tls.pki.ca),
            "opensearch_client_cert": str(tls.pki.client_cert),
            "opensearch_client_key": str(tls.pki.client_key),
        }
        with running_service(tls.url(), redis_url, **certs) as svc:
            lid = new_id()
            svc.send([listing_event(1, lid, title=NON_ASCII)])
            svc.wait_searchable()
            # Public search's own HTTP path shows the client certificate too.
            assert svc.ids(keywords="Zürich") == [lid]
        # Without the client certificate the front ends the handshake; what to fix is said.
        from infra.clients import opensearch_client
        from infra.engine_connection import connection_of
        from infra.failures import engine_failure_reason
        from infra.settings import Settings

        bare = opensearch_client(tls.url(), settings=Settings(opensearch_ca_certs=str(tls.pki.ca)))
        with pytest.raises(Exception) as failed:
            bare.cluster.health()
        assert "OPENSEARCH_CLIENT_CERT" in engine_failure_reason(failed.value, connection=connection_of(bare))
        # Unverified: works, and is said once, naming the risk.
        caplog.set_level(logging.WARNING)
        loose = Settings(opensearch_verify_certs=False, opensearch_client_cert=certs["opensearch_client_cert"],
                         opensearch_client_key=certs["opensearch_client_key"])  # fmt: skip
        client = opensearch_client(tls.url(), settings=loose)
        client.connection.warn_if_unverified()
        assert client.cluster.health()["status"] in ("green", "yellow")
        warned = [r.getMessage() for r in caplog.records if "OPENSEARCH_VERIFY_CERTS=false" in r.getMessage()]
        assert len(warned) == 1 and "read every request" in warned[0]


def test_no_secret_in_status_metrics_readiness_or_logs(
    front: tuple[TlsFront, Path], redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    tls, _ = front
    caplog.set_level(logging.DEBUG)
    with running_service(tls.url(), redis_url, opensearch_ca_certs=str(tls.pki.ca)) as svc:
        svc.send([listing_event(1, new_id())])
        svc.wait_searchable()
        shown = [
            svc.operator.get("/v1/status").text,
            svc.operator.get("/metrics").text,
            svc.public.get("/readyz").text,
            svc.public.get("/openapi.json").text,
        ]
        # A wrong password, seen from the same place.
        settings = svc.services.settings.model_copy(update={"opensearch_url": tls.url(password="Wr0ng-pässword")})
        from indexer.ops.status import probe_engine
        from indexer.services import Services

        wrong = Services.from_settings(settings, engine_url=settings.opensearch_url or "")
        reason = probe_engine(wrong.engine, wrong.names, 5)
        assert reason is not None and "401" in reason
        shown.append(reason)
    shown += [record.getMessage() for record in caplog.records]
    for text in shown:
        for secret in (tls.password, "p%C3%A4ssword", "Wr0ng-pässword", "Wr0ng-p%C3%A4ssword"):
            assert secret not in text, text[:500]


def _rebuild_in_a_thread(svc: Service, failures: list[BaseException]) -> Any:
    def enqueue(job_id: str) -> None:
        def run() -> None:
            try:
                run_rebuild(svc.services, job_id)
            except BaseException as exc:
                failures.append(exc)

        threading.Thread(target=run, name=f"rebuild-{job_id[:8]}", daemon=True).start()

    return enqueue


AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No AWS credentials but the ones a test gives, and no shared files or instance metadata."""
    for name in (*AWS_KEYS, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_sigv4_signs_ingest_a_schema_rebuild_and_public_search(
    engine_url: str, redis_url: str, aws_env: pytest.MonkeyPatch
) -> None:
    """Every request of the three paths carries a signature the proxy recomputes and accepts, bodies
    with non-ASCII text included (the payload hash is of the bytes sent)."""
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIDLISTINGSEARCH1")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "secret/one+key")
    aws_env.setenv("AWS_SESSION_TOKEN", "session-token-one")
    with sigv4_proxy(engine_url, region="eu-west-3") as (proxy, url):
        proxy.accept("AKIDLISTINGSEARCH1", "secret/one+key", "session-token-one")
        with running_service(url, redis_url, opensearch_auth="sigv4", aws_region="eu-west-3") as svc:
            lids = [new_id() for _ in range(3)]
            svc.send(
                [
                    listing_event(i + 1, lid, title=f"{NON_ASCII} {i}", public_data={"view": "Überblick 東"})
                    for i, lid in enumerate(lids)
                ]
            )
            svc.wait_searchable()
            failures: list[BaseException] = []
            job = schema_change.set_schema(
                svc.services,
                SearchSchema(key="view", scope="public", type="enum"),
                enqueue=_rebuild_in_a_thread(svc, failures),
            )
            assert job is not None
            done = svc.wait_job(job["id"])
            assert done["state"] == "succeeded" and not failures, (done, failures)
            time.sleep(1.1)  # the API re-reads the live index at most once a second
            assert set(svc.ids(keywords="東京の部屋")) == set(lids)
            assert set(svc.ids(pub_view="Überblick 東")) == set(lids)
    assert not proxy.refused, proxy.refused[:5]
    paths = Counter(_operation(method, path) for method, path, _ in proxy.verified)
    for op in ("_bulk", "_search", "_mget", "_aliases", "create index", "_index_template"):
        assert paths[op] > 0, paths


def test_sigv4_a_wrong_region_is_refused_and_said(engine_url: str, redis_url: str, aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIDLISTINGSEARCH2")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "secret-two")
    with sigv4_proxy(engine_url, region="eu-west-3") as (proxy, url):
        proxy.accept("AKIDLISTINGSEARCH2", "secret-two")
        from indexer.ops.status import probe_engine
        from indexer.services import Services
        from infra.settings import Settings

        settings = Settings(opensearch_auth="sigv4", aws_region="us-east-1", redis_url=redis_url)
        wrong = Services.from_settings(settings, engine_url=url)
        reason = probe_engine(wrong.engine, wrong.names, 5)
        assert reason is not None and "403" in reason and "AWS_REGION" in reason, reason
    assert proxy.refused and "region" in proxy.refused[0][2]


def test_sigv4_rotated_role_credentials_are_picked_up(
    engine_url: str, redis_url: str, aws_env: pytest.MonkeyPatch
) -> None:
    """Credentials of a role, from the container credentials endpoint through botocore's standard
    chain: when the role's keys rotate (and the old ones stop working), requests go on."""
    with (
        sigv4_proxy(engine_url, region="eu-west-3") as (proxy, url),
        container_credentials("ASIAFIRSTKEY", "first-secret", "first-token") as (role, endpoint),
    ):
        aws_env.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint)
        proxy.accept("ASIAFIRSTKEY", "first-secret", "first-token")
        with running_service(url, redis_url, opensearch_auth="sigv4", aws_region="eu-west-3") as svc:
            first = new_id()
            svc.send([listing_event(1, first, title="before the rotation")])
            svc.wait_searchable()
            role.rotate("ASIASECONDKEY", "second-secret", "second-token")
            proxy.accept("ASIASECONDKEY", "second-secret", "second-token")
            proxy.revoke("ASIAFIRSTKEY")
            second = new_id()
            svc.send([listing_event(2, second, title="after the rotation")])
            svc.wait_searchable()
            assert svc.ids(keywords="rotation") and set(svc.ids(keywords="rotation")) == {first, second}
    assert role.served >= 2
    assert not proxy.refused, proxy.refused[:5]
