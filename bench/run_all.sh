#!/usr/bin/env bash
# Every benchmark in sequence, on a quiet machine; results land in bench/results/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
$py -m bench.transform --repeat 3
$py -m bench.query_overhead --rounds 200 --clients 1,4,16 --seconds 10
# Needs Debian's wrk (and py-spy from the `bench` extra for its profile).
$py -m bench.api_throughput --rounds 300 --seconds 10
$py -m bench.ingest --rounds 5
$py -m bench.ingest --listings 10000 --rounds 3
$py -m bench.freshness --rate 50 --seconds 30
$py -m bench.recovery
$py -m bench.rebuild --listings "${REBUILD_LISTINGS:-100000}"
