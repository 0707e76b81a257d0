"""One engine connection from the settings: where credentials come from, what may be shown, and a
setting that cannot work said with its name, before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from opensearchpy.exceptions import AuthenticationException, AuthorizationException

from infra.engine_connection import EngineConnection, EngineSettingError, hidden
from infra.failures import configuration_failure, engine_failure_reason
from infra.settings import Settings


def conn(url: str, **settings: object) -> EngineConnection:
    return EngineConnection.from_settings(Settings(**settings), url)  # type: ignore[arg-type]


def test_credentials_in_the_url_are_taken_out_of_it_and_hidden_when_shown() -> None:
    c = conn("https://search:p%C3%A4ss%3Aword@engine.example:9200/prefix/")
    assert c.url == "https://engine.example:9200/prefix"
    assert (c.username, c.password) == ("search", "päss:word")
    assert c.display_url() == "https://search:***@engine.example:9200/prefix"
    assert "päss" not in repr(c) and "word" not in c.describe()
    assert hidden("https://u:secret@h:1/x") == "https://u:***@h:1/x"
    assert hidden("http://h:1") == "http://h:1"


def test_credentials_from_settings_or_a_password_file(tmp_path: Path) -> None:
    assert conn("https://h:9200", opensearch_username="u", opensearch_password="pw").password == "pw"
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    c = conn("https://h:9200", opensearch_username="u", opensearch_password_file=str(secret))
    assert c.password == "from-file"
    assert c.auth_headers() == {"authorization": "Basic dTpmcm9tLWZpbGU="}


@pytest.mark.parametrize(
    ("url", "settings", "names"),
    [
        ("ftp://h", {}, "OPENSEARCH_URL"),
        ("https://u:p@h:1", {"opensearch_username": "v", "opensearch_password": "q"}, "OPENSEARCH_USERNAME"),
        ("https://h:1", {"opensearch_password": "q"}, "OPENSEARCH_USERNAME"),
        ("https://h:1", {"opensearch_ca_certs": "/no/such/ca.pem"}, "OPENSEARCH_CA_CERTS"),
        (
            "https://h:1",
            {"opensearch_password_file": "/no/such/file", "opensearch_username": "u"},
            "OPENSEARCH_PASSWORD_FILE",
        ),
        ("http://h:1", {"opensearch_client_cert": __file__, "opensearch_client_key": __file__}, "https"),
        ("https://h:1", {"opensearch_client_cert": __file__}, "OPENSEARCH_CLIENT_KEY"),
        ("https://u:p@h:1", {"opensearch_auth": "sigv4", "aws_region": "eu-west-1"}, "sigv4"),
        ("https://h:1", {"opensearch_auth": "basic"}, "OPENSEARCH_USERNAME"),
    ],
)
def test_a_setting_that_cannot_work_is_named(url: str, settings: dict[str, object], names: str) -> None:
    with pytest.raises(EngineSettingError, match=names) as refused:
        conn(url, **settings)
    assert "p@" not in str(refused.value)


def test_sigv4_needs_a_region_and_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION")
    for name in (
        *names,
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(EngineSettingError, match="AWS_REGION"):
        conn("https://h:443", opensearch_auth="sigv4")
    with pytest.raises(EngineSettingError, match="no AWS credentials"):
        conn("https://h:443", opensearch_auth="sigv4", aws_region="eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    signed = conn("https://h:443", opensearch_auth="sigv4", aws_region="eu-west-1", opensearch_sigv4_service="aoss")
    assert signed.sigv4 is not None and (signed.sigv4.region, signed.sigv4.service) == ("eu-west-1", "aoss")
    sign = signed.auth_headers()
    assert callable(sign)
    headers = sign("POST", "https://h:443/i/_search?filter_path=a,b", '{"q": "Zürich"}'.encode())
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert "/eu-west-1/aoss/aws4_request" in headers["Authorization"]


def test_refusals_say_which_setting_to_change() -> None:
    basic = conn("https://u:p@h:1")
    anonymous = conn("https://h:1")
    assert "wrong credentials" in engine_failure_reason(AuthenticationException(401, "x"), connection=basic)
    assert "wants credentials" in engine_failure_reason(AuthenticationException(401, "x"), connection=anonymous)
    assert "role" in engine_failure_reason(AuthorizationException(403, "x"), connection=basic)
    assert configuration_failure(AuthenticationException(401, "x"))
    assert not configuration_failure(AuthorizationException(404, "x"))
