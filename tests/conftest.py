"""Test order for the whole suite: tests marked ``slow`` run first.

With ``pytest -n 2`` each worker takes the next test when it is free (``--maxschedchunk=1`` in
pyproject.toml); starting with the slow ones spreads them over both workers and leaves the many
short tests to even out the end, instead of one worker finishing a 20-second test alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest
from _pytest.nodeid import coerce_node_id

# Matching solves at the tests' own priority, in this process and in every server or CLI process a
# test starts (they inherit the environment). In production the nightly solve is niced and under
# SCHED_IDLE (settings nightly_nice, nightly_idle) so that it yields to requests; here the other
# test worker is always busy, and a solve that only gets the CPU nobody wants made a test's time
# depend on its neighbour (the demo CLI test took 11 s on a quiet machine and 106 s on a loaded
# one). test_nightly's solve_politely test sets both explicitly.
os.environ.setdefault("QUNBANG_NIGHTLY_IDLE", "0")
os.environ.setdefault("QUNBANG_NIGHTLY_NICE", "0")


_SHARED = pytest.StashKey[tuple[str, str]]()


def pytest_configure(config: pytest.Config) -> None:
    """In the main process (not an xdist worker): a folder and an id for this run, which its
    test processes share (they inherit the environment): databases and files that every process
    would otherwise make for itself are made once (tests/api/conftest.py ``run_once``)."""
    if hasattr(config, "workerinput"):
        return
    run = uuid.uuid4().hex[:8]
    folder = tempfile.mkdtemp(prefix=f"qunbang-tests-{run}-")
    os.environ["QUNBANG_TEST_RUN"] = run
    os.environ["QUNBANG_TEST_SHARED"] = folder
    config.stash[_SHARED] = (run, folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The main process, after every test process is done: remove the shared folder and drop
    the PostgreSQL databases made once for the run (named ``qb_st_<run>_…``)."""
    if _SHARED not in config.stash:
        return
    run, folder = config.stash[_SHARED]
    shutil.rmtree(folder, ignore_errors=True)
    url = os.environ.get("QUNBANG_TEST_PG_URL")
    if not url:
        return
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            names = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (f"qb_st_{run}_",)
            ).fetchall()
            for (name,) in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.OperationalError:  # the server is gone: nothing left to drop
        pass


RAY_GROUP = "ray"


@pytest.hookimpl(tryfirst=True)  # before xdist's, which names each item after its group
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort: otherwise the collection order is kept); the tests that
    use Ray (``ray_local``) in one xdist group, so that under ``--dist loadgroup`` (make test)
    one test process runs them one after another: one Ray instance per run, not one per
    process, each left idle beside the other tests."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    grouping = getattr(items[0].config.option, "loadgroup", False) if items else False
    for item in items:
        if "ray_local" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(RAY_GROUP))
            if grouping and "@" not in item.nodeid:
                # pytest-xdist 3.8 names the item after its group by setting ``_nodeid``, which
                # pytest 9 no longer reads (the id is ``_id``): name it here, as xdist means to.
                item._id = coerce_node_id(f"{item.nodeid}@{RAY_GROUP}")  # type: ignore[attr-defined]


_RAY_STARTED = pytest.StashKey[bool]()


@pytest.fixture
def ray_local(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """One local Ray instance with two CPUs for the Ray tests of the session (the city tests'
    pool joins it); started by the first test that asks for it and shut down after the last of
    a run of such tests (``pytest_runtest_teardown``: its daemons would otherwise idle beside
    every later test); skips a test that asks for it where Ray (the ``cluster`` extra) is
    missing."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, address="local")
        request.config.stash[_RAY_STARTED] = True
    return ray


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Shut down the Ray instance ``ray_local`` started once the next test does not use it
    (the Ray tests run one after another: ``RAY_GROUP``)."""
    if not item.config.stash.get(_RAY_STARTED, False):
        return
    if nextitem is not None and "ray_local" in getattr(nextitem, "fixturenames", ()):
        return
    import ray

    ray.shutdown()
    item.config.stash[_RAY_STARTED] = False
