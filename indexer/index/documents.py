"""A listing document's stored form in the engine: read in real time (`mget`, no refresh
needed), and written with the version that makes the engine refuse a stale overwrite.

The stream worker, the rebuild's copies and the re-sync all read and write documents through
these, so "what version does a write carry" and "what does a failed read mean" have one answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from infra.failures import TransientEngineError, transient_status
from schemas.index_layout import F

# One request stays well under the engine's http.max_content_length (100 MB by default).
MAX_BULK_BYTES = 10 * 1024 * 1024


def index_op(lid: str, doc: dict[str, Any], version: int | None) -> bytes:
    seq = int(doc[F.SEQ])
    # An older event of another component (say a booking that arrived late) changes the
    # document without raising its newest sequenceId: same version, so external_gte.
    if version is None or seq > version:
        meta = {"_id": lid, "version": seq, "version_type": "external"}
    else:
        meta = {"_id": lid, "version": version, "version_type": "external_gte"}
    return orjson.dumps({"index": meta}) + b"\n" + orjson.dumps(doc) + b"\n"


def fetch_sources(engine: OpenSearch, index: str, ids: Iterable[str]) -> dict[str, tuple[dict[str, Any], int]]:
    """Current sources and versions, read in real time (no refresh needed)."""
    found = fetch_documents(engine, index, ids, fields=(F.SOURCE,))
    return {lid: (stored.get(F.SOURCE) or {}, version) for lid, (stored, version) in found.items()}


def fetch_documents(
    engine: OpenSearch, index: str, ids: Iterable[str], *, fields: Sequence[str]
) -> dict[str, tuple[dict[str, Any], int]]:
    """The stored fields asked for, and versions, read in real time (no refresh needed)."""
    try:
        found = engine.mget(index=index, body={"ids": list(ids)}, params={"_source": ",".join(fields)})
    except TransportError as exc:
        if exc.status_code == 404:
            raise TransientEngineError(f"index {index} is missing") from exc
        if transient_status(exc.status_code):
            raise TransientEngineError(str(exc)) from exc
        raise
    out: dict[str, tuple[dict[str, Any], int]] = {}
    for doc in found["docs"]:
        if doc.get("error"):
            raise TransientEngineError(f"mget failed for {doc.get('_id')}: {doc['error']}")
        if doc.get("found"):
            out[doc["_id"]] = (doc.get("_source") or {}, int(doc["_version"]))
    return out


def engine_reason(error: object) -> str:
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error)


def bulk_chunks(ops: list[tuple[str, bytes]], max_bytes: int) -> Iterable[list[tuple[str, bytes]]]:
    chunk: list[tuple[str, bytes]] = []
    size = 0
    for op in ops:
        if chunk and size + len(op[1]) > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(op)
        size += len(op[1])
    if chunk:
        yield chunk
