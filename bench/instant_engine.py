"""An engine that answers in microseconds: recorded answers of the real engine, replayed.

What our API costs cannot be seen next to an engine that takes milliseconds, least of all next
to osmem-server. This server stands in the engine's place for `bench.api_throughput`:

- `--record FILE --upstream URL`: a proxy in front of the real engine that writes down every
  request (method, target, body) and its answer; stop it with SIGTERM or SIGINT to save.
- `--replay FILE`: answers each recorded request with its recorded bytes, from a dict, on a
  bare asyncio protocol (HTTP/1.1 keep-alive, Content-Length bodies): tens of microseconds.
  A request that was never recorded gets a 404 and is counted (`GET /__misses`).

    python -m bench.instant_engine --record rec.json --upstream http://127.0.0.1:9200 --port 9300
    python -m bench.instant_engine --replay rec.json --port 9300
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import signal
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import orjson

Key = tuple[str, str, bytes]


def load(path: Path) -> dict[Key, tuple[int, bytes]]:
    answers: dict[Key, tuple[int, bytes]] = {}
    for item in orjson.loads(path.read_bytes()):
        key = (item["method"], unquote(item["target"]), base64.b64decode(item["body"]))
        answers[key] = (item["status"], base64.b64decode(item["answer"]))
    return answers


def save(path: Path, answers: dict[Key, tuple[int, bytes]]) -> None:
    items = [
        {
            "method": method,
            "target": target,
            "body": base64.b64encode(body).decode(),
            "status": status,
            "answer": base64.b64encode(answer).decode(),
        }
        for (method, target, body), (status, answer) in answers.items()
    ]
    path.write_bytes(orjson.dumps(items))


_REASONS = {200: b"OK", 201: b"Created", 404: b"Not Found", 502: b"Bad Gateway"}


def _response(status: int, body: bytes, *, head: bool) -> bytes:
    reason = _REASONS.get(status, b"Status")
    lines = b"HTTP/1.1 %d %s\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: %d\r\n\r\n" % (
        status,
        reason,
        len(body),
    )
    return lines if head else lines + body


class _Http(asyncio.Protocol):
    """The least HTTP/1.1 an engine client needs: pipelined keep-alive requests with bodies."""

    def __init__(self, server: InstantEngine) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].split(b"\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = head[0].decode("latin-1").split(" ", 2)
            self.server.handle(self, method, target, body)

    def reply(self, status: int, body: bytes, *, head: bool) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_response(status, body, head=head))


class InstantEngine:
    def __init__(self, answers: dict[Key, tuple[int, bytes]], upstream: str | None = None) -> None:
        self.answers = answers
        self.upstream = urlparse(upstream) if upstream else None
        self.misses = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    def handle(self, conn: _Http, method: str, target: str, body: bytes) -> None:
        head = method == "HEAD"
        if target == "/__misses":
            conn.reply(200, orjson.dumps({"misses": self.misses, "recorded": len(self.answers)}), head=head)
            return
        # Clients escape query strings differently (`%2C` or `,`): compared unescaped.
        found = self.answers.get((method, unquote(target), body))
        if found is not None:
            conn.reply(found[0], found[1], head=head)
        elif self.upstream is not None:
            assert self.loop is not None
            fut = self.loop.run_in_executor(None, self._forward, method, target, body)
            fut.add_done_callback(lambda f: conn.reply(*f.result(), head=head))
        else:
            self.misses += 1
            conn.reply(404, orjson.dumps({"error": f"not recorded: {method} {target}"}), head=head)

    def _forward(self, method: str, target: str, body: bytes) -> tuple[int, bytes]:
        assert self.upstream is not None
        conn = http.client.HTTPConnection(self.upstream.hostname or "127.0.0.1", self.upstream.port or 80, timeout=60)
        try:
            headers = {"content-type": "application/json"} if body else {}
            conn.request(method, target, body=body or None, headers=headers)
            resp = conn.getresponse()
            answer = resp.read()
        except OSError as exc:
            return 502, orjson.dumps({"error": str(exc)})
        finally:
            conn.close()
        # Only answers worth replaying: a failure would be replayed as one.
        if resp.status < 500:
            self.answers[(method, unquote(target), body)] = (resp.status, answer)
        return resp.status, answer

    async def serve(self, port: int, stop: asyncio.Event) -> None:
        self.loop = asyncio.get_running_loop()
        server = await self.loop.create_server(lambda: _Http(self), "127.0.0.1", port, backlog=1024)
        print(f"instant engine on http://127.0.0.1:{port} ({len(self.answers)} recorded answers)", flush=True)
        async with server:
            await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", type=Path, help="write what passes to this file on exit")
    mode.add_argument("--replay", type=Path, help="answer from this recording")
    parser.add_argument("--upstream", help="the real engine (with --record)")
    args = parser.parse_args()
    if args.record and not args.upstream:
        parser.error("--record needs --upstream")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    engine = InstantEngine(load(args.replay) if args.replay else {}, upstream=args.upstream)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await engine.serve(args.port, stop)

    asyncio.run(run())
    if args.record:
        save(args.record, engine.answers)
        print(f"recorded {len(engine.answers)} answers to {args.record}", file=sys.stderr)


if __name__ == "__main__":
    main()


__all__ = ["InstantEngine", "load", "save"]
