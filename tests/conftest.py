"""Test order for the whole suite: tests marked ``slow`` run first.

With ``pytest -n 2`` each worker takes the next test when it is free (``--maxschedchunk=1`` in
pyproject.toml); starting with the slow ones spreads them over both workers and leaves the many
short tests to even out the end, instead of one worker finishing a 20-second test alone.
"""

from __future__ import annotations

import os

import pytest

# Matching solves at the tests' own priority, in this process and in every server or CLI process a
# test starts (they inherit the environment). In production the nightly solve is niced and under
# SCHED_IDLE (settings nightly_nice, nightly_idle) so that it yields to requests; here the other
# test worker is always busy, and a solve that only gets the CPU nobody wants made a test's time
# depend on its neighbour (the demo CLI test took 11 s on a quiet machine and 106 s on a loaded
# one). test_nightly's solve_politely test sets both explicitly.
os.environ.setdefault("QUNBANG_NIGHTLY_IDLE", "0")
os.environ.setdefault("QUNBANG_NIGHTLY_NICE", "0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort: otherwise the collection order is kept)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
