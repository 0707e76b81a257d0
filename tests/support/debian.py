"""Real programs from Debian's packages (nginx, redis-sentinel, openssl) for the tests that put
production parts in front of the service: found on PATH, else installed with apt-get when the
tests run as root, else a skip that says how; under CI (`CI=true`) a program that cannot be had
fails the run instead, since CI must never pass by skipping these tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _find(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/sbin"):
        path = Path(folder) / binary
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def debian_program(binary: str, package: str) -> str:
    """The path of `binary`, installing Debian's `package` when missing and allowed to."""
    found = _find(binary)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False, timeout=600)
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", package],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        found = _find(binary)
        if found is None:
            said = (done.stderr or done.stdout).strip()[-300:]
            _unavailable(f"{binary} could not be installed with `apt-get install {package}`: {said or 'no output'}")
    if found is None:
        _unavailable(f"{binary} is not installed: `sudo apt-get install {package}`")
    assert found is not None
    return found


def _unavailable(reason: str) -> None:
    if on_ci():
        pytest.fail(f"CI runs this test: {reason}", pytrace=False)
    pytest.skip(reason)
