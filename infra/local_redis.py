"""Make sure a Redis answers at REDIS_URL, starting a throw-away local redis-server if not.

The dev command and the test suite call this, so a fresh machine needs nothing but Python:
on Debian as root, a missing redis-server is installed from Debian's packages.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse, urlunparse

import redis

log = logging.getLogger(__name__)

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class RedisUnavailable(RuntimeError):
    pass


@dataclass
class LocalRedis:
    url: str
    process: subprocess.Popen[bytes] | None = None
    _dir: str | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)


def answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log.warning("redis-server is missing: installing Debian's redis-server package")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
            check=False,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        found = shutil.which("redis-server")
        if found:
            return found
    raise RedisUnavailable(
        "no Redis answers at REDIS_URL and redis-server is not installed: install it "
        "(Debian/Ubuntu: `sudo apt-get install redis-server`, macOS: `brew install redis`) "
        "or set REDIS_URL to a running Redis"
    )


def ensure_redis(url: str, *, own_port: bool = False) -> LocalRedis:
    """Return a Redis to use: the one at `url` if it answers, else a local one we start.

    `own_port=True` (tests) always starts a private server on a free port, so test runs never
    touch a developer's data.
    """
    if not own_port and answers(url):
        return LocalRedis(url=url)
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    if not own_port and host not in _LOCAL_HOSTS:
        raise RedisUnavailable(f"no Redis answers at {url} (and it is not local, so none is started)")
    binary = _redis_server_binary()
    port = _free_port() if own_port or parsed.port is None else parsed.port
    workdir = tempfile.mkdtemp(prefix="listing-search-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    new_url = urlunparse(parsed._replace(netloc=f"127.0.0.1:{port}"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if answers(new_url):
            log.info("started a local redis-server at %s (nothing kept on disk)", new_url)
            return LocalRedis(url=new_url, process=proc, _dir=workdir)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    shutil.rmtree(workdir, ignore_errors=True)
    raise RedisUnavailable(f"redis-server did not start on port {port}")
