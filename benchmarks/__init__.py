"""The bench command: the remotemedia runtime measured against CPython, side by side.

Run `make bench` (or `python3 -m benchmarks`, `--help` for options) from the repository root.
See benchmarks/README.md for what each row measures and how to add one.
"""
