"""Errors in the contract's shape: `{"errors": [{id, status, code, title, details, source}]}`.

Every non-2xx answer of the app goes through here, including the framework's own 404/405/422
and unexpected exceptions, so a client only ever has one error shape to parse.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_TITLES = {
    400: "Invalid parameter",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    414: "URI too long",
    415: "Unsupported media type",
    422: "Unprocessable",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_CODES = {
    400: "validation-invalid-params",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "request-entity-too-large",
    414: "request-uri-too-long",
    415: "unsupported-media-type",
    429: "too-many-requests",
    500: "internal-server-error",
    503: "service-unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        details: str,
        *,
        param: str | None = None,
        location: str = "query",
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(details)
        self.status = status
        self.details = details
        self.param = param
        self.location = location
        self.code = code or _CODES.get(status, "error")
        self.headers = headers or {}


def invalid_param(param: str, message: str, *, location: str = "query") -> ApiError:
    """400 whose details start with the parameter's name, as Flex clients expect."""
    return ApiError(400, f"{param}: {message}", param=param, location=location)


def error_item(
    status: int, details: str, *, code: str | None = None, source: list[str] | None = None
) -> dict[str, Any]:
    """One entry of `errors`, for the rare answer that carries more than the errors (`/readyz`)."""
    err: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": status,
        "code": code or _CODES.get(status, "error"),
        "title": _TITLES.get(status, "Error"),
        "details": details,
    }
    if source:
        err["source"] = {"path": source}
    return err


def error_body(status: int, details: str, *, code: str | None = None, source: list[str] | None = None) -> bytes:
    return orjson.dumps({"errors": [error_item(status, details, code=code, source=source)]})


def error_response(
    status: int,
    details: str,
    *,
    code: str | None = None,
    source: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        error_body(status, details, code=code, source=source),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        source = [exc.location, exc.param] if exc.param else None
        return error_response(exc.status, exc.details, code=exc.code, source=source, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ())]
        # ("body", "default", "str"): the parameter is the second item, the rest is pydantic's detail.
        name = (
            loc[1]
            if len(loc) > 1 and loc[0] in ("body", "query", "path", "header")
            else (loc[-1] if loc else "request")
        )
        return error_response(400, f"{name}: {first.get('msg')}", source=loc or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal error; it has been logged")
