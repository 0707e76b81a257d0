"""`POST /v1/auth/token`: the anonymous token the Flex SDK asks for before its first call.

The request is Flex's Authentication API's (sharetribe.com/api-reference/authentication.html:
form-encoded `client_id`, `grant_type=client_credentials`, `scope=public-read`; all answers
JSON). Errors follow OAuth 2.0, which that API follows (RFC 6749 section 5.2):
`{"error": ..., "error_description": ...}`, 400 `invalid_request` / `unsupported_grant_type` /
`invalid_scope`, 401 `invalid_client`.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import orjson
import redis
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from search_api.auth.public_tokens import SCOPE, TokenIssuer
from search_api.edge.rate_limit import rate_limited

router = APIRouter(prefix="/v1/auth", tags=["public search"], dependencies=[Depends(rate_limited)])
_FORM = "application/x-www-form-urlencoded"
_OAUTH_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
_TOKEN_SCHEMA = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in", "scope"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "enum": ["bearer"]},
        "expires_in": {"type": "integer"},
        "scope": {"type": "string"},
    },
}
# Never cached: a token is a credential (RFC 6749 section 5.1).
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(status: int, error: str, description: str) -> Response:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="listing-search"'
    if status == 503:
        headers["Retry-After"] = "2"
    body = orjson.dumps({"error": error, "error_description": description})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


@router.post(
    "/token",
    summary="Anonymous token for the Flex SDK",
    description="Form-encoded `client_id`, `grant_type=client_credentials`, `scope=public-read` (what "
    "`sharetribe-flex-sdk` sends). Answers `{access_token, token_type: bearer, expires_in, scope}`. "
    "Public search needs no token; a token sent must be valid (else 401). No refresh token is issued. "
    "`LISTING_SEARCH_TOKEN_CLIENT_IDS` limits which client ids get one (empty: any).",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _FORM: {
                    "schema": {
                        "type": "object",
                        "required": ["client_id", "grant_type"],
                        "properties": {
                            "client_id": {"type": "string"},
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string", "enum": [SCOPE]},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {"content": {"application/json": {"schema": _TOKEN_SCHEMA}}},
            "400": {
                "description": "OAuth 2.0 error: invalid_request, unsupported_grant_type or invalid_scope",
                "content": {"application/json": {"schema": _OAUTH_ERROR_SCHEMA}},
            },
            "401": {
                "description": "OAuth 2.0 error: invalid_client",
                "content": {"application/json": {"schema": _OAUTH_ERROR_SCHEMA}},
            },
            "503": {
                "description": "OAuth 2.0 error: temporarily_unavailable (Redis, which holds the secret, is away)",
                "content": {"application/json": {"schema": _OAUTH_ERROR_SCHEMA}},
            },
        },
    },
)
async def issue_token(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        return _oauth_error(400, "invalid_request", f"the body must be {_FORM}")
    raw = await request.body()
    try:
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        return _oauth_error(400, "invalid_request", f"the body cannot be read as a form: {exc}")
    for name, values in form.items():
        if len(values) > 1:
            return _oauth_error(400, "invalid_request", f"{name} is given more than once")
    fields = {name: values[0] for name, values in form.items()}
    grant_type = fields.get("grant_type")
    client_id = fields.get("client_id", "").strip()
    if not grant_type:
        return _oauth_error(400, "invalid_request", "grant_type is missing")
    if grant_type != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", f"{grant_type!r}: only client_credentials (anonymous tokens) is issued"
        )
    if not client_id:
        return _oauth_error(400, "invalid_request", "client_id is missing")
    if "client_secret" in fields:
        return _oauth_error(401, "invalid_client", "client secrets are not accepted here: anonymous tokens only")
    issuer: TokenIssuer = request.app.state.token_issuer
    if not issuer.client_allowed(client_id):
        return _oauth_error(401, "invalid_client", f"client_id {client_id!r} is not allowed")
    scope = fields.get("scope", SCOPE)
    if scope != SCOPE:
        return _oauth_error(400, "invalid_scope", f"{scope!r}: only {SCOPE} is issued")
    try:
        issued = issuer.issue(client_id)
    except redis.RedisError:
        # RFC 6749 section 4.1.2.1's code for a server that cannot answer now.
        return _oauth_error(503, "temporarily_unavailable", "the token secret cannot be read right now; retry shortly")
    return Response(orjson.dumps(issued), media_type="application/json", headers=_NO_STORE)
