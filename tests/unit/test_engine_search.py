"""The async engine search raises what opensearch-py raises for the same failures, so the routes'
one set of handlers (503 with Retry-After, or the error) stays right."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import orjson
import pytest
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError

from search_api.search.engine_call import EngineSearch

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
    )
    return head + await reader.readexactly(length)


def answer(status: int, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def run(handler: Handler, call: Callable[[EngineSearch], Awaitable[object]]) -> object:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = EngineSearch(f"http://127.0.0.1:{port}")
    try:
        return await call(engine)
    finally:
        await engine.close()
        server.close()


def search(timeout: float = 2.0) -> Callable[[EngineSearch], Awaitable[object]]:
    return lambda engine: engine.search("idx", {"size": 1}, timeout=timeout, filter_path="hits.total")


def test_an_answer_is_decoded_and_the_request_is_the_rest_call() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(answer(200, b'{"hits":{"total":{"value":3}}}'))
        await writer.drain()

    assert asyncio.run(run(handler, search())) == {"hits": {"total": {"value": 3}}}
    assert seen[0].startswith(b"POST /idx/_search?filter_path=hits.total HTTP/1.1")
    assert seen[0].endswith(b'{"size":1}')


@pytest.mark.parametrize(
    ("status", "body", "kind", "error"),
    [
        (404, {"error": {"type": "index_not_found_exception"}}, NotFoundError, "index_not_found_exception"),
        (503, {"error": "busy"}, TransportError, "busy"),
        (429, {"error": {"type": "rejected"}}, TransportError, "rejected"),
    ],
)
def test_error_answers_raise_opensearch_py_exceptions(
    status: int, body: dict[str, object], kind: type[TransportError], error: str
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(status, orjson.dumps(body)))
        await writer.drain()

    with pytest.raises(kind) as got:
        asyncio.run(run(handler, search()))
    assert got.value.status_code == status and got.value.error == error


def test_a_hung_engine_is_a_connection_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    with pytest.raises(ConnectionTimeout):
        asyncio.run(run(handler, search(timeout=0.3)))


def test_a_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def call() -> object:
        engine = EngineSearch(f"http://127.0.0.1:{port}")
        try:
            return await search()(engine)
        finally:
            await engine.close()

    with pytest.raises(EngineConnectionError) as got:
        asyncio.run(call())
    assert not isinstance(got.value, ConnectionTimeout)


def test_a_connection_the_engine_closed_is_tried_once_more() -> None:
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        await read_request(reader)
        if calls == 1:
            writer.close()  # as an engine closing an idle kept-alive connection
            return
        writer.write(answer(200, b"{}"))
        await writer.drain()

    assert asyncio.run(run(handler, search())) == {}
    assert calls == 2


def test_no_compression_is_asked_for_and_urls_are_built_once() -> None:
    """As opensearch-py without `http_compress`: no Accept-Encoding, so OpenSearch (which gzips
    whenever asked) answers plain JSON."""
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                seen.append(await read_request(reader))
            except asyncio.IncompleteReadError:
                return
            writer.write(answer(200, b"{}"))
            await writer.drain()

    async def twice(engine: EngineSearch) -> object:
        for index in ("a-1", "b,c"):
            await engine.search(index, {}, timeout=2.0, filter_path="hits.hits._id")
        await engine.search("a-1", {}, timeout=2.0)
        return len(engine._urls)

    assert asyncio.run(run(handler, twice)) == 3
    assert [r.split(b" ")[1] for r in seen] == [
        b"/a-1/_search?filter_path=hits.hits._id",
        b"/b,c/_search?filter_path=hits.hits._id",
        b"/a-1/_search",
    ]
    assert all(b"accept-encoding" not in r.lower() and b"user-agent" not in r.lower() for r in seen), seen
