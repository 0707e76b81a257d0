#!/usr/bin/env bash
# Install into .venv and run the service with the Albany demo data on the embedded defaults.
# Extra arguments go to `listing-search dev` (e.g. --port 8080, --no-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
install_into_venv .
exec .venv/bin/listing-search dev "$@"
