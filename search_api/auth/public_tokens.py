"""Anonymous access tokens for the Flex SDK: issued by `POST /v1/auth/token`, checked on `/v1/api/`.

The SDK asks for one before its first call and sends it on every request (sharetribe-flex-sdk
src/interceptors/fetch_auth_token_from_api.js, add_auth_header.js); after a 401 it asks for a
fresh one and retries once (retry_with_anon_token.js). Public search needs no credential, so a
token only has to be ours and unexpired: a JWT (RFC 7519) signed with HMAC-SHA256, checked
without any lookup. No refresh token is issued, as Flex issues none for anonymous tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from typing import Any

import orjson
import redis

from infra.settings import Settings
from search_api.redis_keys import ApiKeys

ISSUER = "listing-search"
SCOPE = "public-read"
_HEADER = base64.urlsafe_b64encode(orjson.dumps({"alg": "HS256", "typ": "JWT"})).rstrip(b"=")


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def _unb64(part: bytes) -> bytes:
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


class TokenIssuer:
    def __init__(self, settings: Settings, client: redis.Redis, keys: ApiKeys) -> None:
        self.settings = settings
        self._client = client
        self._keys = keys
        self._secret: bytes | None = (
            settings.token_secret.get_secret_value().encode() if settings.token_secret else None
        )
        self._lock = threading.Lock()

    def secret(self) -> bytes:
        """The configured secret, else the deployment's own from Redis (made once, kept there)."""
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    self._client.set(self._keys.token_secret, secrets.token_hex(32), nx=True)
                    raw = self._client.get(self._keys.token_secret)
                    if raw is None:  # deleted between the two calls: make it again next time
                        raise redis.RedisError("the token secret disappeared from Redis")
                    self._secret = raw if isinstance(raw, bytes) else str(raw).encode()
        return self._secret

    def client_allowed(self, client_id: str) -> bool:
        allowed = self.settings.token_client_ids
        return not allowed or client_id in allowed

    def issue(self, client_id: str, *, now: float | None = None) -> dict[str, Any]:
        issued = int(now if now is not None else time.time())
        ttl = self.settings.token_ttl_seconds
        claims = {
            "iss": ISSUER,
            "sub": client_id,
            "scope": SCOPE,
            "iat": issued,
            "exp": issued + ttl,
            "jti": str(uuid.uuid4()),
        }
        signing_input = _HEADER + b"." + _b64(orjson.dumps(claims))
        sig = _b64(hmac.new(self.secret(), signing_input, hashlib.sha256).digest())
        # The shape of Flex's own answer (sharetribe-flex-sdk src/fake/token_store.js createAnonToken).
        return {
            "access_token": (signing_input + b"." + sig).decode(),
            "token_type": "bearer",
            "expires_in": ttl,
            "scope": SCOPE,
        }

    def verify(self, token: str, *, now: float | None = None) -> str | None:
        """None when the token is ours and unexpired, else why not."""
        parts = token.encode("ascii", "replace").split(b".")
        if len(parts) != 3 or parts[0] != _HEADER:
            return "not a token issued by this service"
        expected = _b64(hmac.new(self.secret(), parts[0] + b"." + parts[1], hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            return "the token's signature is not valid"
        try:
            claims = orjson.loads(_unb64(parts[1]))
        except (ValueError, orjson.JSONDecodeError):
            return "the token cannot be read"
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER or claims.get("scope") != SCOPE:
            return "not a token issued by this service"
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= (now if now is not None else time.time()):
            return "the token has expired"
        return None
