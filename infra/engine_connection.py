"""How every client reaches the engine: one set of settings (`OPENSEARCH_*`, `AWS_REGION`) made
into one `EngineConnection`, which builds the opensearch-py client and gives public search's
aiohttp path the same URL, TLS context and credentials (a basic-auth header, or a SigV4
signature of each request's exact bytes).

Secrets never leave this module in a string: `display_url` replaces the password by `***`, and
`infra.failures.engine_failure_reason` says what failed in terms of the setting to change.
"""

from __future__ import annotations

import base64
import logging
import ssl
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

import urllib3
from opensearchpy import OpenSearch

from infra.settings import Settings

log = logging.getLogger(__name__)

HIDDEN: Final = "***"


class EngineSettingError(ValueError):
    """A setting of the engine connection that cannot work; the message names the setting."""


def _strip_credentials(url: str) -> tuple[str, str | None, str | None]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EngineSettingError(
            f"OPENSEARCH_URL: expected http(s)://[user:password@]host:port[/prefix], got {hidden(url)}"
        )
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path.rstrip("/"), "", "")), user, password


def hidden(url: str) -> str:
    """`url` with its password, if any, replaced by `***`: what logs, errors and status may show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    if parts.password is None:
        return url
    userinfo = f"{parts.username or ''}:{HIDDEN}@"
    return urlunsplit(parts._replace(netloc=userinfo + parts.netloc.rsplit("@", 1)[1]))


@dataclass(frozen=True)
class SigV4:
    region: str
    service: str
    credentials: Any = field(repr=False)  # botocore credentials (refreshable: rotated roles are picked up)

    def signer(self) -> Any:
        from opensearchpy.helpers.signer import AWSV4Signer

        return AWSV4Signer(self.credentials, self.region, self.service)


@dataclass(frozen=True)
class EngineConnection:
    url: str  # scheme://host:port[/prefix], no credentials
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify_certs: bool = True
    sigv4: SigV4 | None = None

    @classmethod
    def from_settings(cls, settings: Settings, url: str | None = None) -> EngineConnection:
        """The connection the settings describe (`url` overrides OPENSEARCH_URL: the embedded engine,
        a test's proxy). Raises `EngineSettingError` naming the setting that cannot work."""
        raw = url or settings.opensearch_url
        if not raw:
            raise EngineSettingError("OPENSEARCH_URL: not set")
        base, user, password = _strip_credentials(raw)
        if settings.opensearch_username is not None or settings.opensearch_password is not None:
            if user is not None:
                raise EngineSettingError(
                    "OPENSEARCH_URL carries credentials and OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD are set too: "
                    "give them once"
                )
            user = settings.opensearch_username
            password = settings.opensearch_password.get_secret_value() if settings.opensearch_password else None
        if settings.opensearch_password_file:
            if password is not None:
                raise EngineSettingError("OPENSEARCH_PASSWORD_FILE and a password elsewhere: give the password once")
            try:
                password = Path(settings.opensearch_password_file).read_text().rstrip("\r\n")
            except OSError as exc:
                raise EngineSettingError(f"OPENSEARCH_PASSWORD_FILE: cannot read it ({exc.strerror})") from None
        if password is not None and not user:
            raise EngineSettingError("OPENSEARCH_PASSWORD without OPENSEARCH_USERNAME")
        for name, path in (
            ("OPENSEARCH_CA_CERTS", settings.opensearch_ca_certs),
            ("OPENSEARCH_CLIENT_CERT", settings.opensearch_client_cert),
            ("OPENSEARCH_CLIENT_KEY", settings.opensearch_client_key),
        ):
            if path and not Path(path).is_file():
                raise EngineSettingError(f"{name}: no file {path}")
        if bool(settings.opensearch_client_cert) != bool(settings.opensearch_client_key):
            raise EngineSettingError("OPENSEARCH_CLIENT_CERT and OPENSEARCH_CLIENT_KEY go together (mutual TLS)")
        tls_given = settings.opensearch_ca_certs or settings.opensearch_client_cert
        if tls_given and not base.startswith("https://"):
            raise EngineSettingError("OPENSEARCH_CA_CERTS/OPENSEARCH_CLIENT_CERT need an https:// OPENSEARCH_URL")
        sigv4 = None
        if settings.opensearch_auth == "sigv4":
            if user is not None:
                raise EngineSettingError("OPENSEARCH_AUTH=sigv4 signs requests: give no username or password")
            sigv4 = _sigv4(settings)
        elif settings.opensearch_auth == "basic" and user is None:
            raise EngineSettingError("OPENSEARCH_AUTH=basic needs OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD")
        return cls(
            url=base,
            username=user,
            password=password,
            ca_certs=settings.opensearch_ca_certs,
            client_cert=settings.opensearch_client_cert,
            client_key=settings.opensearch_client_key,
            verify_certs=settings.opensearch_verify_certs,
            sigv4=sigv4,
        )

    # ---- what may be shown -------------------------------------------------------------------

    def display_url(self) -> str:
        if self.username is None:
            return self.url
        parts = urlsplit(self.url)
        secret = f":{HIDDEN}" if self.password is not None else ""
        return urlunsplit(parts._replace(netloc=f"{quote(self.username, safe='')}{secret}@{parts.netloc}"))

    def describe(self) -> str:
        """One line for a start banner: where, and how it authenticates (no secret)."""
        if self.sigv4 is not None:
            auth = f"AWS SigV4 ({self.sigv4.service}, {self.sigv4.region})"
        elif self.username is not None:
            auth = f"basic auth as {self.username}"
        else:
            auth = "no credentials"
        tls = ""
        if self.url.startswith("https://"):
            tls = ", TLS" + (
                " NOT VERIFIED" if not self.verify_certs else f" (CA {self.ca_certs})" if self.ca_certs else ""
            )
            tls += ", client certificate" if self.client_cert else ""
        return f"{self.url} ({auth}{tls})"

    def warn_if_unverified(self) -> None:
        if self.url.startswith("https://") and not self.verify_certs:
            # Said once here, not by urllib3 on every request.
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
            log.warning(
                "OPENSEARCH_VERIFY_CERTS=false: the engine's certificate is not checked, so anyone on the network "
                "path can pose as the engine, read every request (credentials included) and change every answer"
            )

    # ---- clients --------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.url.startswith("https://"):
            return None
        context = ssl.create_default_context(cafile=self.ca_certs)
        if self.ca_certs is None and not context.cert_store_stats()["x509_ca"]:
            # No CA certificates in the system store (a slim image without ca-certificates): certifi's.
            import certifi

            context.load_verify_locations(certifi.where())
        if self.client_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        if not self.verify_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def auth_headers(self) -> Callable[[str, str, bytes | None], Mapping[str, str]] | dict[str, str]:
        """Headers for a request: fixed (basic auth, or none) or computed per request (SigV4, which
        signs the method, the full URL and the exact body bytes)."""
        if self.sigv4 is not None:
            signer = self.sigv4.signer()

            def sign(method: str, url: str, body: bytes | None) -> Mapping[str, str]:
                headers: Mapping[str, str] = signer.sign(method, url, body)
                return headers

            return sign
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
            return {"authorization": f"Basic {token}"}
        return {}

    def client(self, *, timeout: float = 30.0, **options: Any) -> EngineClient:
        auth = self.auth_headers()
        # Basic auth as a header of ours, not opensearch-py's tuple (which urllib3 encodes as
        # Latin-1): UTF-8 (RFC 7617), byte for byte what public search's own path sends.
        return EngineClient(
            self,
            hosts=[self.url],
            http_auth=auth if callable(auth) else None,
            headers=None if callable(auth) else dict(auth),
            ssl_context=self.ssl_context(),
            timeout=timeout,
            **options,
        )


class EngineClient(OpenSearch):
    """opensearch-py's client, knowing the connection it was made from, so public search's own
    HTTP path (search_api/search/engine_call.py) reaches the very same engine the same way."""

    def __init__(self, connection: EngineConnection, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connection = connection


def _sigv4(settings: Settings) -> SigV4:
    try:
        import botocore.session
    except ImportError:  # pragma: no cover - a runtime dependency
        raise EngineSettingError("OPENSEARCH_AUTH=sigv4 needs botocore (pip install botocore)") from None
    session = botocore.session.get_session()
    region = settings.aws_region or session.get_config_variable("region")
    if not region:
        raise EngineSettingError("OPENSEARCH_AUTH=sigv4 needs AWS_REGION (the region of the OpenSearch domain)")
    credentials = session.get_credentials()
    if credentials is None:
        raise EngineSettingError(
            "OPENSEARCH_AUTH=sigv4: no AWS credentials found (environment, shared profile, container or instance role)"
        )
    return SigV4(region=region, service=settings.opensearch_sigv4_service, credentials=credentials)


def connection_of(engine: object) -> EngineConnection | None:
    """The connection an engine client was made from (None for a client made some other way)."""
    return engine.connection if isinstance(engine, EngineClient) else None
