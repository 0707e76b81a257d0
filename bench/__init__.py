"""Benchmarks: `python -m bench.<name>` (see docs/benchmarks.md). Each prints a table and
writes bench/results/<name>.json with the machine, the versions and the engine."""
