"""Test order for the whole suite: tests marked ``slow`` run first.

With ``pytest -n 2`` each worker takes the next test when it is free (``--maxschedchunk=1`` in
pyproject.toml); starting with the slow ones spreads them over both workers and leaves the many
short tests to even out the end, instead of one worker finishing a 20-second test alone.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort: otherwise the collection order is kept)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
