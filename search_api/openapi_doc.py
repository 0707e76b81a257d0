"""The OpenAPI document tells the truth about errors: every operation can answer 4xx/5xx with the
contract's error body, and never with FastAPI's default 422 validation shape, which this app
replaces (search_api.errors). Clients and schemathesis read the error schema from here."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "status", "code", "title", "details"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "status": {"type": "integer", "minimum": 400, "maximum": 599},
                    "code": {"type": "string", "minLength": 1},
                    "title": {"type": "string", "minLength": 1},
                    "details": {"type": "string", "minLength": 1},
                    "source": {
                        "type": "object",
                        "required": ["path"],
                        "properties": {"path": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
                    },
                },
            },
        }
    },
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
_RANGES = {"4XX": "Bad request: `errors[0].details` says what, `source.path` names the parameter", "5XX": "Unavailable"}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Errors"] = ERROR_SCHEMA
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for code, response in responses.items():
                # An answer documented with its own body keeps it (the token endpoint's OAuth errors).
                if code[0] in "45" and "content" not in response:
                    response["content"] = _ERROR_CONTENT
            for code, description in _RANGES.items():
                responses.setdefault(code, {"description": description, "content": _ERROR_CONTENT})
    return spec
