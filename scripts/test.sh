#!/usr/bin/env bash
# Install everything into .venv and run the whole check: ruff, mypy, then the test suite.
# Needs only Python 3.11+ with venv; Redis and the search engine are found or started by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" - <<'PYCHECK'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"listing-search needs Python 3.11+, this is {sys.version.split()[0]} (set PYTHON=python3.11)")
PYCHECK
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when no test was collected (e.g. a -k filter matching nothing): not a failure.
if [ "$rc" -eq 5 ]; then echo "no tests collected"; rc=0; fi
exit "$rc"
