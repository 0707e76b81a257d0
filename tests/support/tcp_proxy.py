"""A loopback TCP proxy the tests can make sick in three ways:

- `down()`: refused. The listener is closed and every open connection cut, as when the engine's
  process is gone.
- `freeze()`: hung. Connections are still accepted, but not a byte moves either way, on new or
  open connections, as when the engine is stopped (SIGSTOP) or wedged: the kernel completes the
  handshake and nobody ever reads. Bytes sent meanwhile are held and delivered on `thaw()`, as a
  stopped process would read them when it is continued.
- `slow(seconds)`: every chunk of every answer is held that long before it is passed on.

`up()` makes it healthy again from any of these.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import urlparse


class TcpProxy:
    def __init__(self, target_url: str) -> None:
        parsed = urlparse(target_url)
        self.target = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        # Set while bytes may flow; every pipe waits on it before passing a chunk on.
        self._flowing = threading.Event()
        self._delay = 0.0
        self.up()

    def up(self) -> None:
        """Healthy: listening (again, after `down()`), flowing, no delay."""
        self._delay = 0.0
        with self._lock:
            if self._listener is None:
                listener = socket.socket()
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("127.0.0.1", self.port))
                listener.listen(64)
                self._listener = listener
                threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        self._flowing.set()

    def thaw(self) -> None:
        """The end of `freeze()`: held bytes go on, in order, and so does everything after them."""
        self._flowing.set()

    def freeze(self) -> None:
        """Hung: accepts connections, never forwards a byte (new and open connections alike)."""
        self._flowing.clear()

    def slow(self, seconds: float) -> None:
        """Every answer chunk waits `seconds` before it is passed on (a slow engine, not a dead one)."""
        self._delay = seconds
        self._flowing.set()

    def down(self) -> None:
        """Close the listener and every open connection: new connections are refused."""
        with self._lock:
            if self._listener is not None:
                # close() alone does not wake a thread blocked in accept(): the kernel would keep
                # listening. shutdown() does.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()
        # Pipes held by a freeze wake up to closed sockets and end; nothing held is delivered.
        self._flowing.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b, answers in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pipe, args=(a, b, answers), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while data := src.recv(65536):
                self._flowing.wait()
                if answers and self._delay:
                    time.sleep(self._delay)
                self._flowing.wait()  # a freeze that began during the delay holds this chunk too
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
