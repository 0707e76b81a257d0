"""Prove that `pip install .` alone is enough to run what this repository ships (issue 12).

scripts/test.sh runs this before ruff, mypy and pytest. It

1. makes a clean venv in a temporary directory (removed afterwards) with the Python running this
   script (scripts/test.sh starts it with `${PYTHON:-python3}`, the same rule as scripts/venv.sh);
2. `pip install .`s a copy of the checkout into it: no extras, not editable, as the Dockerfile does
   (the copy keeps the build's in-tree artefacts out of the checkout);
3. imports every module of the installed packages from outside the checkout, checking that each
   comes from the venv's site-packages, and names any module that imports something
   `pip install .` did not install;
4. starts the venv's own `listing-search dev` on a free port, with its own Redis key prefix and the
   embedded engine, waits until a keyword search returns demo listings, stops it and deletes its
   Redis keys.

Standard library only: the system Python runs it before any venv exists, and it drives the fresh
venv through subprocesses. Skip it for quick local runs with LISTING_SEARCH_SKIP_FRESH_CHECK=1
(ignored when CI is set).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEV_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
QUERY = "/v1/api/listings/query?keywords=cozy&perPage=3"
# Left out of the copy that is installed: nothing here is part of the package.
TOP_LEVEL_SKIP = {".git", "tests", "build", "dist"}
ANYWHERE_SKIP = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "node_modules"}
# Environment that would make dev prove something else than the embedded defaults, or read a
# developer's secrets into its output.
ENV_DROP = (
    "OPENSEARCH_URL",
    "LISTING_SEARCH_OPENSEARCH_URL",
    "OSMEM_SERVER_BIN",
    "LISTING_SEARCH_SHARETRIBE_CLIENT_ID",
    "LISTING_SEARCH_SHARETRIBE_CLIENT_SECRET",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
)

# Runs inside the fresh venv (python -I, cwd outside the checkout): import every module of the
# installed packages and write what happened as JSON to argv[2].
IMPORT_ALL = r"""
import importlib, json, pkgutil, sys, sysconfig, traceback
from pathlib import Path

packages, out = json.loads(sys.argv[1]), sys.argv[2]
roots = sorted({Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")})
report = {"prefix": sys.prefix, "in_venv": sys.prefix != sys.base_prefix, "site": [str(r) for r in roots],
          "modules": [], "failures": [], "outside": []}


def shipped_file(filename):
    path = Path(filename).resolve()
    for root in roots:
        if path.is_relative_to(root):
            rel = path.relative_to(root)
            if rel.parts and rel.parts[0] in packages:
                return rel
    return None


def failure(name, exc):
    entry = {"module": name, "error": f"{type(exc).__name__}: {exc}",
             "missing": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
             "by": None, "line": None}
    # The innermost frame in a shipped module is the import statement that failed.
    for frame, lineno in reversed(list(traceback.walk_tb(exc.__traceback__))):
        rel = shipped_file(frame.f_code.co_filename)
        if rel is not None:
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            entry["by"], entry["line"] = ".".join(parts), f"{rel}:{lineno}"
            break
    report["failures"].append(entry)


def load(name):
    try:
        module = importlib.import_module(name)
    except (Exception, SystemExit) as exc:
        failure(name, exc)
        return None
    where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), "")
    if not where or shipped_file(where) is None:
        report["outside"].append({"module": name, "file": str(where)})
    report["modules"].append(name)
    return module


for package in packages:
    top = load(package)
    if top is None or not hasattr(top, "__path__"):
        continue
    names = [info.name for info in pkgutil.walk_packages(top.__path__, package + ".", onerror=lambda name: None)]
    for name in names:
        # `python -m` entry points run the program when imported; what they import is imported here anyway.
        if name.rsplit(".", 1)[-1] != "__main__":
            load(name)

Path(out).write_text(json.dumps(report))
"""

# Runs inside the fresh venv: delete the keys under a prefix (argv[2]) at a Redis URL (argv[1]).
DROP_KEYS = r"""
import sys
import redis

client = redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2, socket_timeout=10)
pattern = "".join("\\" + c if c in "*?[]\\" else c for c in sys.argv[2]) + "*"
batch, dropped = [], 0
for key in client.scan_iter(match=pattern, count=1000):
    batch.append(key)
    if len(batch) >= 500:
        dropped += client.delete(*batch)
        batch = []
if batch:
    dropped += client.delete(*batch)
print(dropped)
"""


class CheckFailed(Exception):
    pass


def say(text: str) -> None:
    print(text, flush=True)


def shipped_packages() -> list[str]:
    """The top-level packages of [tool.setuptools.packages.find] include ("schemas*" → schemas)."""
    import tomllib

    with (ROOT / "pyproject.toml").open("rb") as f:
        config = tomllib.load(f)
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    names = sorted({re.sub(r"\.?\*$", "", p) for p in patterns})
    bad = [n for n in names if not n.isidentifier()]
    if bad:
        raise CheckFailed(f"cannot tell the packages from [tool.setuptools.packages.find] include {patterns}")
    return names


def copy_source(dest: Path) -> None:
    def ignore(directory: str, entries: list[str]) -> set[str]:
        top = Path(directory).resolve() == ROOT
        return {
            e
            for e in entries
            if e in ANYWHERE_SKIP
            or e.endswith((".egg-info", ".pyc"))
            or e.startswith(".venv")
            or (top and (e in TOP_LEVEL_SKIP or e == "venv"))
        }

    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)


def clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def install(work: Path, venv: Path, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdin=subprocess.DEVNULL)
    source = work / "src"
    copy_source(source)
    # pip's output (warnings included) is shown only when the install fails.
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode != 0:
        raise CheckFailed(f"`pip install .` into a clean venv failed (exit {result.returncode}):\n{result.stdout}")


def import_everything(work: Path, venv: Path, env: dict[str, str], packages: list[str]) -> int:
    out = work / "imports.json"
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", IMPORT_ALL, json.dumps(packages), str(out)],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    if result.returncode != 0 or not out.exists():
        raise CheckFailed(f"importing the installed packages crashed (exit {result.returncode}):\n{result.stdout}")
    report: dict[str, Any] = json.loads(out.read_text())
    problems: list[str] = []
    if not report["in_venv"]:
        problems.append(f"the import check did not run in the fresh venv (sys.prefix {report['prefix']})")
    for entry in report["outside"]:
        problems.append(
            f"{entry['module']} was imported from {entry['file']}, not from the venv's site-packages "
            f"({', '.join(report['site'])})"
        )
    problems.extend(explain_failures(report["failures"], packages))
    if problems:
        raise CheckFailed("\n".join(problems))
    return len(report["modules"])


def explain_failures(failures: list[dict[str, Any]], packages: list[str]) -> list[str]:
    """One message per cause: what is missing, which modules import it (file:line), what else it breaks."""
    causes: dict[tuple[str, str], tuple[list[str], list[str]]] = {}  # cause → (importers, modules)
    for f in failures:
        by = f["by"] or f["module"]
        importer = f"{by} ({f['line']})" if f["line"] else by
        key = ("missing", f["missing"]) if f["missing"] else ("error", f"{importer}: {f['error']}")
        importers, modules = causes.setdefault(key, ([], []))
        if importer not in importers:
            importers.append(importer)
        if f["module"] != by and f["module"] not in modules:
            modules.append(f["module"])
    messages = []
    for (kind, what), (importers, modules) in causes.items():
        if kind == "missing":
            top = what.split(".")[0]
            who = (
                f"{', '.join(importers[:-1])} and {importers[-1]} import"
                if len(importers) > 1
                else f"{importers[0]} imports"
            )
            if top in packages or (ROOT / top).is_dir() or (ROOT / f"{top}.py").is_file():
                why = (
                    f"{who} {what}, which is in the repository but not in what `pip install .` installs: "
                    "add it to [tool.setuptools.packages.find] include (or package-data) in pyproject.toml"
                )
            else:
                why = (
                    f"{who} {what}, which `pip install .` does not install: "
                    "add it to [project] dependencies in pyproject.toml"
                )
        else:
            why = f"importing {what}"
        modules = [m for m in modules if not any(i.split(" ")[0] == m for i in importers)]
        messages.append(why + (f"\n  (so these fail to import too: {', '.join(modules)})" if modules else ""))
    return messages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join("  | " + line for line in text.splitlines()[-lines:]) or "  | (no output)"


def query(url: str) -> tuple[int | None, int, str]:
    """(status, listings in data, note) for one GET; status None when nothing answered."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=10) as resp:
            body = json.loads(resp.read())
            data = body.get("data") if isinstance(body, dict) else None
            return int(resp.status), len(data) if isinstance(data, list) else 0, ""
    except urllib.error.HTTPError as exc:
        return exc.code, 0, exc.read()[:300].decode(errors="replace")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, 0, str(exc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group (dev, its engine, a throw-away redis-server), SIGKILL if it lingers."""
    pgid = proc.pid  # start_new_session=True: dev leads its own group

    def signal_group(sig: int) -> bool:
        try:
            os.killpg(pgid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    signal_group(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        say(f"   listing-search dev did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM: SIGKILL")
        signal_group(signal.SIGKILL)
        proc.wait(timeout=10)
    # Children that outlived dev (they share its group).
    deadline = time.monotonic() + 5
    while signal_group(0) and time.monotonic() < deadline:
        time.sleep(0.1)
    signal_group(signal.SIGKILL)


def run_dev(work: Path, venv: Path, env: dict[str, str]) -> tuple[int, float]:
    port = free_port()
    prefix = f"lsfresh-{os.getpid()}:"
    log_path = work / "dev.log"
    dev_env = {
        **env,
        "LISTING_SEARCH_REDIS_PREFIX": prefix,
        # A made-up token: dev prints it, and its output may end up in a CI log.
        "LISTING_SEARCH_OPERATOR_TOKEN": f"fresh-check-{os.getpid()}-{time.time_ns()}",
    }
    url = f"http://127.0.0.1:{port}{QUERY}"
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(venv / "bin" / "listing-search"), "dev", "--port", str(port)],
            cwd=work,
            env=dev_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        last = "nothing answered yet"
        while True:
            elapsed = time.monotonic() - started
            if proc.poll() is not None:
                raise CheckFailed(
                    f"listing-search dev exited with {proc.returncode} after {elapsed:.1f} s:\n{tail(log_path)}"
                )
            status, listings, note = query(url)
            if status == 200 and listings > 0:
                return listings, time.monotonic() - started
            last = f"HTTP {status}, {listings} listings" if status is not None else note
            if elapsed > DEV_TIMEOUT_S:
                raise CheckFailed(
                    f"listing-search dev did not return demo listings for GET {QUERY} within {DEV_TIMEOUT_S:.0f} s "
                    f"(last: {last}):\n{tail(log_path)}"
                )
            time.sleep(0.5)
    finally:
        stop(proc)
        drop_keys(venv, env, log_path, prefix)


def drop_keys(venv: Path, env: dict[str, str], log_path: Path, prefix: str) -> None:
    # The Redis dev used is in its banner (a throw-away one it started is gone with it).
    match = re.search(r"redis: (\S+)", log_path.read_text(errors="replace")) if log_path.exists() else None
    redis_url = match.group(1) if match else env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        result = subprocess.run(
            [str(venv / "bin" / "python"), "-I", "-c", DROP_KEYS, redis_url, prefix],
            cwd=log_path.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        say(f"   note: deleting the Redis keys under {prefix!r} timed out")
        return
    if result.returncode != 0 and "Connection" not in result.stderr:
        say(f"   note: could not delete the Redis keys under {prefix!r}: {result.stderr.strip()[-300:]}")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: stop dev, remove the venv


def main() -> int:
    # This script runs under whatever ${PYTHON:-python3} is, so the floor is checked here (as in venv.sh).
    if sys.version_info < (3, 11):  # noqa: UP036
        print(
            f"listing-search needs Python 3.11+, Python {platform.python_version()} found (set PYTHON=python3.11)",
            file=sys.stderr,
        )
        return 1
    if os.environ.get("LISTING_SEARCH_SKIP_FRESH_CHECK", "") not in ("", "0"):
        if not os.environ.get("CI"):
            say("== fresh install: skipped (LISTING_SEARCH_SKIP_FRESH_CHECK is set)")
            return 0
        say("== fresh install: LISTING_SEARCH_SKIP_FRESH_CHECK is ignored in CI")
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    say("== fresh install: clean venv, `pip install .` (no extras), import every module, `listing-search dev`")
    work = Path(tempfile.mkdtemp(prefix="listing-search-fresh-"))
    try:
        packages = shipped_packages()
        venv = work / "venv"
        env = clean_env(venv)
        t0 = time.monotonic()
        install(work, venv, env)
        pip_s = time.monotonic() - t0
        modules = import_everything(work, venv, env, packages)
        listings, dev_s = run_dev(work, venv, env)
    except CheckFailed as exc:
        print(f"== fresh install FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(
        f"== fresh install: pip install . {pip_s:.1f} s, {modules} modules imported, "
        f"dev answered {listings} listings in {dev_s:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
