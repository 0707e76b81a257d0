"""Sharetribe's published JavaScript SDK, pinned in tests/sdk/ (package-lock.json), and the Node.js
that runs it: installed by `npm ci` when missing, a skip that says how outside CI, a failure on CI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SDK_DIR = Path(__file__).resolve().parents[1] / "sdk"


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not on PATH: the Flex SDK test needs Node 18+ (CI machines have it)")
        pytest.skip("node is not on PATH: install Node.js 18+ to run the Flex SDK compatibility test")
    if not (SDK_DIR / "node_modules" / "sharetribe-flex-sdk").is_dir():
        # The test command runs `npm ci` first; this makes `pytest` alone work too.
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI"):
                pytest.fail("npm is not on PATH and tests/sdk/node_modules is missing: the Flex SDK test needs both")
            pytest.skip("npm is not on PATH: run `npm ci` in tests/sdk/")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SDK_DIR, check=True, timeout=600)
    return node
