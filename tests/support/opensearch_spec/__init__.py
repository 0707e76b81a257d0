"""Request bodies checked against OpenSearch's own API specification (vendored, see README.md).

`body_errors(method, path, body)` maps a request, as sent on the wire, to the spec operation it is
and returns why its body does not validate against that operation's request-body schema (an empty
list when it does, when the request is none of the operations in `bundle.json`, or has no body).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Final, Protocol

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BUNDLE_PATH: Final = Path(__file__).with_name("bundle.json")
BUNDLE_URI: Final = "urn:opensearch-api-specification:bundle"

# Bulk actions and whether a source line follows each (`update`'s is its partial-document body).
_BULK_ACTIONS: Final = {"index": True, "create": True, "update": True, "delete": False}


class _Error(Protocol):
    message: str
    json_path: str
    absolute_path: Sequence[str | int]
    relative_schema_path: Sequence[str | int]
    context: list[_Error]
    validator: str
    validator_value: object
    instance: object


class _Validator(Protocol):
    def iter_errors(self, instance: object) -> Iterator[_Error]: ...


@cache
def bundle() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(BUNDLE_PATH.read_text(encoding="utf-8"))
    return loaded


def operations() -> frozenset[str]:
    """The operations the bundle has a body schema for (`bulk.action`, `bulk.update`: one NDJSON line)."""
    return frozenset(bundle()["operations"])


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(bundle(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(BUNDLE_URI, resource)
    return registry.crawl()


@cache
def validator(operation: str) -> _Validator:
    """The compiled validator of one operation's body schema (cached)."""
    if operation not in bundle()["operations"]:
        raise KeyError(f"no body schema for {operation!r}; known: {sorted(operations())}")
    schema = {"$ref": f"{BUNDLE_URI}#/operations/{operation}/schema"}
    checker: _Validator = Draft202012Validator(schema, registry=_registry())
    return checker


def operation_of(method: str, path: str) -> str | None:
    """The spec operation a request is, by its path's shape; None for any other request."""
    method = method.upper()
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if not parts:
        return None
    last = parts[-1]
    if len(parts) <= 2 and last in ("_search", "_count", "_mget"):
        if len(parts) == 2 and parts[0].startswith("_"):
            return None
        return {"_search": "search", "_count": "count", "_mget": "mget"}[last] if method in ("GET", "POST") else None
    if len(parts) <= 2 and last == "_bulk":
        if len(parts) == 2 and parts[0].startswith("_"):
            return None
        return "bulk" if method in ("POST", "PUT") else None
    if len(parts) == 2 and parts[0] == "_index_template":
        return "indices.put_index_template" if method in ("PUT", "POST") else None
    if parts == ["_aliases"]:
        return "indices.update_aliases" if method == "POST" else None
    if len(parts) == 2 and last == "_mapping" and not parts[0].startswith("_"):
        return "indices.put_mapping" if method in ("PUT", "POST") else None
    if len(parts) == 1 and not last.startswith("_"):
        return "indices.create" if method == "PUT" else None
    return None


def body_errors(method: str, path: str, body: bytes) -> list[str]:
    """Why this request's body does not validate against the OpenSearch spec (empty: it does).

    Each error names the operation, the JSON path in the body (for `_bulk`, the NDJSON line) and
    the reason. Requests that are none of the bundled operations, or carry no body, give [].
    """
    operation = operation_of(method, path)
    if operation is None:
        return []
    if body[:2] == b"\x1f\x8b":  # http_compress
        body = gzip.decompress(body)
    if not body.strip():
        return []
    if operation == "bulk":
        return _bulk_errors(body)
    try:
        instance = json.loads(body)
    except ValueError as exc:
        return [f"{operation}: body is not JSON: {exc}"]
    return list(_schema_errors(operation, instance, operation))


def _schema_errors(operation: str, instance: object, where: str) -> list[str]:
    out: list[str] = []
    for error in sorted(validator(operation).iter_errors(instance), key=lambda e: e.json_path):
        message = f"{where}: {error.json_path}: {_message(error)}"
        leaves = _reasons(error)
        if leaves != [error]:
            shown = "; ".join(f"{leaf.json_path}: {_message(leaf)}" for leaf in leaves[:5])
            message += f" (because {shown}{'; ...' if len(leaves) > 5 else ''})"
        if message not in out:  # a `$ref` and its usage point may both say `type: object`
            out.append(message)
    return out


def _reasons(error: _Error) -> list[_Error]:
    """Why a `oneOf`/`anyOf` failed: the failures of the branch that got deepest into the body."""
    if not error.context:
        return [error]
    if all(sub.validator == "const" and sub.json_path == error.json_path for sub in error.context):
        return [_OneOf(error, [sub.validator_value for sub in error.context])]  # an enum spelled as consts
    branches: dict[object, list[_Error]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).extend(_reasons(sub))
    # Deepest first; on a tie, a branch of the instance's own type (whose failures are not all `type`).
    return max(
        branches.values(),
        key=lambda leaves: (
            max(len(leaf.absolute_path) for leaf in leaves),
            any(leaf.validator != "type" for leaf in leaves),
        ),
    )


class _OneOf:
    """A `oneOf` of `const`s that failed, said as the enum it is."""

    def __init__(self, error: _Error, values: list[object]) -> None:
        self.message = f"{error.instance!r} is not one of {values!r}"
        self.json_path = error.json_path
        self.absolute_path = error.absolute_path
        self.relative_schema_path = error.relative_schema_path
        self.context: list[_Error] = []
        self.validator = "enum"
        self.validator_value: object = values
        self.instance = error.instance


def _message(error: _Error) -> str:
    if error.validator == "enum" and "propertyNames" in error.relative_schema_path:
        # A closed object (see README.md) whose properties also come from a `$ref` or `allOf`.
        return _short(f"unknown property {error.instance!r}, the spec allows {error.validator_value!r}")
    return _short(error.message)


def _short(message: str, limit: int = 240) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _bulk_errors(body: bytes) -> list[str]:
    """NDJSON: each action line against the spec's action schema; then its source line, if it has one."""
    errors: list[str] = []
    if not body.endswith(b"\n"):
        errors.append("bulk: the body must end with a newline (OpenSearch refuses it otherwise)")
    lines = [(n, line) for n, line in enumerate(body.split(b"\n"), start=1) if line.strip()]
    numbered = iter(lines)
    for number, raw in numbered:
        action = _json_line(raw, number, errors)
        if action is None:
            break  # which of the following lines are actions cannot be told
        found = _schema_errors("bulk.action", action, f"bulk line {number}")
        errors.extend(found)
        name = next(iter(action), None) if isinstance(action, dict) and len(action) == 1 else None
        if name not in _BULK_ACTIONS:
            if not found:
                errors.append(f"bulk line {number}: $: not one of the actions {sorted(_BULK_ACTIONS)}")
            break  # nor here: a source line follows some actions only
        if not _BULK_ACTIONS[name]:
            continue
        source = next(numbered, None)
        if source is None:
            errors.append(f"bulk line {number}: $: the {name} action has no source line after it")
            break
        doc = _json_line(source[1], source[0], errors)
        if doc is None:
            continue
        if name == "update":
            errors.extend(_schema_errors("bulk.update", doc, f"bulk line {source[0]}"))
        elif not isinstance(doc, dict):  # the spec's free-form line is `type: object`
            errors.append(f"bulk line {source[0]}: $: the {name} action's document is not a JSON object")
    return errors


def _json_line(raw: bytes, number: int, errors: list[str]) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        errors.append(f"bulk line {number}: not JSON: {exc}")
        return None
