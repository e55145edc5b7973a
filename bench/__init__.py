"""Benchmarks of tinyfish-mcp against the emulator, on loopback only.

Every figure is a ratio or a comparison taken in the same run (the machines are shared
and noisy). ``python -m bench`` runs them all; each ``python -m bench.<name> --quick``
runs one as a smoke run. Results land in ``bench/results/<name>.json``. Nothing here is
a test and no test runs it.
"""
