#!/usr/bin/env bash
# Install into .venv and run the service with the Albany demo data on the embedded defaults.
# Extra arguments go to `listing-search dev` (e.g. --port 8080, --no-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" - <<'PYCHECK'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"listing-search needs Python 3.11+, this is {sys.version.split()[0]} (set PYTHON=python3.11)")
PYCHECK
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/listing-search dev "$@"
