"""The operator credential: `Authorization: Bearer <LISTING_SEARCH_OPERATOR_TOKEN>`."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from search_api.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="The operator token (env LISTING_SEARCH_OPERATOR_TOKEN)")


def require_operator(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    expected: str | None = request.app.state.services.settings.operator_secret()
    if credentials is None:
        raise ApiError(401, "operator credential required", headers={"WWW-Authenticate": "Bearer"})
    if not expected:
        raise ApiError(403, "operator endpoints are disabled: LISTING_SEARCH_OPERATOR_TOKEN is not set")
    # Constant-time, so response timing tells nothing about how much of a guess was right.
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise ApiError(403, "operator credential refused")


OperatorDep = Depends(require_operator)
