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


@pytest.fixture(scope="session")
def ray_local():  # type: ignore[no-untyped-def]
    """One local Ray instance with two CPUs for the whole test session (the city tests' pool
    joins it); skips a test that asks for it where Ray (the ``cluster`` extra) is missing."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, address="local")
    yield ray
    if started:
        ray.shutdown()
