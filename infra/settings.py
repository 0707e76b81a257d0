"""One validated settings object, read from the environment (names fixed by the contract §8)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Lists read from the environment as comma-separated text (`a,b`), not JSON.
CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LISTING_SEARCH_", extra="ignore", populate_by_name=True)

    # The engine connection (infra/engine_connection.py), one set of settings for every client: the
    # opensearch-py client and public search's aiohttp path alike.
    # `http(s)://[user:password@]host:port[/prefix]`; unset, `dev` and the tests run an embedded engine.
    opensearch_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENSEARCH_URL", "LISTING_SEARCH_OPENSEARCH_URL")
    )
    # Basic auth, when the URL carries no credentials: the password itself or a file holding it
    # (a mounted secret; a trailing newline is ignored).
    opensearch_username: str | None = Field(default=None, validation_alias=AliasChoices("OPENSEARCH_USERNAME"))
    opensearch_password: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENSEARCH_PASSWORD"))
    opensearch_password_file: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENSEARCH_PASSWORD_FILE")
    )
    # TLS: the CA bundle (PEM) the engine's certificate must verify against (unset: the system's),
    # a client certificate and key for mutual TLS, and whether to verify at all (false only for
    # trying things: anyone on the path can then read and change every request).
    opensearch_ca_certs: str | None = Field(default=None, validation_alias=AliasChoices("OPENSEARCH_CA_CERTS"))
    opensearch_client_cert: str | None = Field(default=None, validation_alias=AliasChoices("OPENSEARCH_CLIENT_CERT"))
    opensearch_client_key: str | None = Field(default=None, validation_alias=AliasChoices("OPENSEARCH_CLIENT_KEY"))
    opensearch_verify_certs: bool = Field(default=True, validation_alias=AliasChoices("OPENSEARCH_VERIFY_CERTS"))
    # `sigv4`: AWS Signature Version 4 on every request (Amazon OpenSearch Service, or Serverless with
    # service `aoss`), credentials from the standard AWS chain through botocore, region AWS_REGION.
    # Unset: basic auth when credentials are given, else none.
    opensearch_auth: Literal["basic", "sigv4"] | None = Field(
        default=None, validation_alias=AliasChoices("OPENSEARCH_AUTH")
    )
    opensearch_sigv4_service: Literal["es", "aoss"] = Field(
        default="es", validation_alias=AliasChoices("OPENSEARCH_SIGV4_SERVICE")
    )
    aws_region: str | None = Field(default=None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", validation_alias=AliasChoices("REDIS_URL", "LISTING_SEARCH_REDIS_URL")
    )
    operator_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LISTING_SEARCH_OPERATOR_TOKEN")
    )

    # Names: several deployments (or test runs) can share one cluster and one Redis.
    index_prefix: str = Field(default="listings", pattern=r"^[a-z0-9][a-z0-9_\-]{0,60}$")
    redis_prefix: str = Field(default="ls:", max_length=80)

    # Index.
    refresh_interval: str = "1s"
    shards: int = Field(default=1, ge=1, le=64)
    replicas: int = Field(default=1, ge=0, le=8)

    # Worker.
    batch_size: int = Field(default=1000, ge=1, le=10_000)
    block_ms: int = Field(default=500, ge=10, le=60_000)
    # An entry delivered to a worker that has not acknowledged it this long is claimed by another.
    claim_idle_ms: int = Field(default=60_000, ge=100)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    # Per-listing locks outlive a worker that dies holding them by at most this long; keep it
    # above the engine client timeout (30 s) so a slow live worker never loses its lock.
    lock_ttl_ms: int = Field(default=60_000, ge=100)
    # Bulk requests one worker keeps in flight while it prepares the next batch. Every bulk waits
    # for a refresh (refresh=wait_for), so one at a time would cap a worker at about a batch per
    # refresh interval on OpenSearch.
    bulk_in_flight: int = Field(default=2, ge=1, le=8)

    # Rebuild: documents per copy request.
    rebuild_page_size: int = Field(default=1000, ge=1, le=10_000)

    # Request bounds, for every endpoint: 413 / 414 beyond them, before any parsing.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_query_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)

    # Intake bounds.
    max_events_per_request: int = Field(default=1000, ge=1)
    # Past this many unprocessed events intake answers 503 instead of growing Redis without bound.
    max_pending_events: int = Field(default=2_000_000, ge=1)
    # publicData / metadata of one listing: larger or deeper ones are dead-lettered with the reason,
    # so operator-controlled JSON can never blow up a document or a bulk request.
    max_extended_data_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_extended_data_depth: int = Field(default=16, ge=1, le=200)

    # Public search answers 503 with Retry-After when the engine has not answered within this long
    # (the live-index lookup and the search together), instead of holding the storefront's request for
    # the engine client's 30 s, or for as long as a hung engine keeps the connection open.
    search_timeout_seconds: float = Field(default=5.0, gt=0)
    # How long the API keeps an idle HTTP connection open. Longer than the idle timeouts of the
    # load balancers and clients in front of it (AWS ALB 60 s, nginx 60 s, httpx 5 s): with
    # uvicorn's 5 s default, a proxy or client reusing a connection at the moment the API closes
    # it gets "server disconnected" (a 502 behind a load balancer).
    keep_alive_seconds: int = Field(default=75, ge=1, le=3600)  # uvicorn takes whole seconds

    # Public query bounds (a 400 naming the parameter beyond them). The contract says 100 ids.
    max_keywords_chars: int = Field(default=256, ge=1, le=10_000)
    max_ids: int = Field(default=100, ge=1, le=1000)

    # Browser origins (storefronts) allowed to call the public search endpoints; empty = no CORS.
    # `*` allows any origin (public search needs no credential, so none is ever shared).
    cors_origins: CommaList = Field(default_factory=list)

    # Per-client rate limit on public search (fixed window in Redis); 0 requests = off.
    rate_limit_requests: int = Field(default=0, ge=0)
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=86_400)
    # Proxies (IPs or CIDRs) whose X-Forwarded-For is believed. Empty: the header is ignored and
    # the client is the socket peer, so nobody can choose their own rate-limit bucket.
    trusted_proxies: CommaList = Field(default_factory=list)

    # The storefront search page at `/` and `/search` (search_api/routes/storefront.py). Off unless
    # asked for, because a production API usually sits behind the marketplace's own site and
    # should not answer `/` with a demo page; `listing-search dev` turns it on.
    storefront: bool = False

    # Names this API instance in Redis for its query-latency histogram, which all its worker
    # processes share. `listing-search api` sets it to host:port; unset, each process is its own.
    instance_id: str = ""

    # Anonymous tokens for the Flex SDK (`POST /v1/auth/token`, scope public-read). Signed with this
    # secret; unset, a random one is made once per deployment and kept in Redis, so every API
    # process and restart accepts the same tokens. Client ids allowed a token: empty = any.
    token_secret: SecretStr | None = None
    token_ttl_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)
    token_client_ids: CommaList = Field(default_factory=list)

    @field_validator("cors_origins", "trusted_proxies", "token_client_ids", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and (not origin.startswith(("http://", "https://")) or origin.endswith("/")):
                raise ValueError(f"{origin!r}: an origin is scheme://host[:port] with no path, or *")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    # Sharetribe sync (the Integration API poller and the full re-sync). Off without a client id.
    sharetribe_base_url: str = "https://flex-integ-api.sharetribe.com"
    sharetribe_client_id: str | None = None
    sharetribe_client_secret: SecretStr | None = None
    # Beat polls this often when idle; a full page (100 events) is followed at once by the next one.
    # Sharetribe asks pollers not to poll more often than every 10-30 s when there is nothing new
    # (docs, how-to/reacting-to-events "Recommended polling interval").
    sync_interval_seconds: float = Field(default=10.0, gt=0)
    sync_max_pages_per_run: int = Field(default=200, ge=1)
    # Flex keeps events 90 days (7 on dev and test marketplaces). A checkpoint not polled for
    # longer than this (less a day's safety) cannot be continued: a full re-sync takes over.
    sync_retention_days: float = Field(default=90.0, gt=0)
    # Our clock against Flex's: a re-sync replays events from this long before it started.
    sync_clock_margin_seconds: float = Field(default=300.0, ge=0)
    # 429/5xx/network errors from the Integration API: capped exponential backoff, then give up
    # until the next beat tick (the checkpoint stays where it was).
    sync_retry_max_seconds: float = Field(default=30.0, gt=0)
    sync_give_up_seconds: float = Field(default=120.0, gt=0)
    sync_timeout_seconds: float = Field(default=30.0, gt=0)
    # Client-side token bucket for Integration API requests, per environment (base URL and client
    # id) and process; 0 turns it off. Dev and Test environments limit queries to 1 request per
    # second on average, per client IP (docs, concepts/rate-limiting); the Integration SDK's
    # `devQueryLimiterConfig` (src/utils.js) starts with 100 tokens, adds 1 a second and holds
    # 200 at most. These defaults stay within that; Live environments are not rate limited today
    # and the SDK's `prodQueryLimiterConfig` allows 8 a second with 500 in the bucket.
    sync_rate_limit_per_second: float = Field(default=1.0, ge=0)
    sync_rate_limit_burst: int = Field(default=100, ge=1)

    def sync_configured(self) -> bool:
        secret = self.sharetribe_client_secret.get_secret_value() if self.sharetribe_client_secret else ""
        return bool(self.sharetribe_client_id) and bool(secret)

    def operator_secret(self) -> str | None:
        return self.operator_token.get_secret_value() if self.operator_token else None
