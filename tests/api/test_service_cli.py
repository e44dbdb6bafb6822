"""The service commands: ``qunbang nightly`` exit codes, ``user add``, ``db upgrade``, ``demo``."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cli.main import app
from api.settings import get_settings
from api.store.db import make_engine, session_factory
from api.store.tables import Community, Grid, OfferRow, RunRow, UserRow
from tests.api.conftest import DATE, World

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    """Point the commands at the test database (settings come from the environment)."""
    monkeypatch.setenv("QUNBANG_DATABASE_URL", db_url)
    monkeypatch.setenv("QUNBANG_NIGHTLY_TIME_LIMIT_S", "3")
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def _count(db_url: str, query) -> int:  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        value = int(session.scalar(query) or 0)
    engine.dispose()
    return value


def test_nightly_matches_and_exits_0(env: str, world: World) -> None:
    """A good run exits 0, prints the figures and leaves a done run with offers."""
    result = runner.invoke(app, ["--lang", "en", "nightly", "--date", DATE.isoformat()])
    assert result.exit_code == 0, result.output
    assert "run #" in result.output and "Weighted coverage" in result.output
    assert _count(env, select(func.count()).select_from(RunRow).where(RunRow.status == "done")) == 1
    assert _count(env, select(func.count()).select_from(OfferRow)) > 0


def test_nightly_yields_the_cpu_except_where_its_write_holds_every_street_up(
    env: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``qunbang nightly`` lowers its whole process's priority on PostgreSQL (its write holds
    only its street's lock), not on SQLite (its write holds the database's one writer lock)."""
    import api.cli.service as service

    niced: list[int] = []
    monkeypatch.setattr(service.os, "nice", niced.append)
    monkeypatch.setenv("QUNBANG_NIGHTLY_NICE", "7")
    get_settings.cache_clear()
    result = runner.invoke(app, ["nightly", "--date", DATE.isoformat()])
    assert result.exit_code == 0, result.output
    assert niced == ([] if env.startswith("sqlite") else [7])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-13-01"], "--date"),
        (["--date", "tomorrow"], "--date"),
        (["--street", "nowhere", "--date", DATE.isoformat()], "--street"),
    ],
)
def test_nightly_bad_input_exits_2(env: str, world: World, args: list[str], message: str) -> None:
    """A bad date or an unknown street exits 2 with a one-line message and writes nothing."""
    result = runner.invoke(app, ["nightly", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert _count(env, select(func.count()).select_from(RunRow)) == 0


def test_nightly_failure_exits_1(env: str, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that fails inside exits 1, leaves a failed run record and no offers."""
    import api.services.matching.nightly as nightly

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(nightly, "solve", broken)
    result = runner.invoke(app, ["nightly", "--date", DATE.isoformat()])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert (
        _count(env, select(func.count()).select_from(RunRow).where(RunRow.status == "failed")) == 1
    )
    assert _count(env, select(func.count()).select_from(OfferRow)) == 0


def test_user_add_creates_an_account_and_refuses_bad_input(env: str, world: World) -> None:
    """user add makes a login that works; an unknown street or short password exits 2."""
    ok = runner.invoke(
        app,
        ["user", "add", "zhang", "--role", "staff", "--street", "demo"],
        env={"QUNBANG_NEW_PASSWORD": "long-enough-1"},
    )
    assert ok.exit_code == 0, ok.output
    assert (
        _count(env, select(func.count()).select_from(UserRow).where(UserRow.username == "zhang"))
        == 1
    )
    for args, password in (
        (["user", "add", "li", "--role", "staff", "--street", "nowhere"], "long-enough-1"),
        (["user", "add", "wang", "--role", "staff", "--street", "demo"], "short"),
        (["user", "add", "zhang", "--role", "staff", "--street", "demo"], "long-enough-1"),
        (["user", "add", "zhao", "--role", "boss", "--street", "demo"], "long-enough-1"),
        (["user", "add", "zhou", "--role", "grid_worker", "--street", "demo"], "long-enough-1"),
        (
            ["user", "add", "wu", "--role", "grid_worker", "--street", "demo", "--grid", "G01"],
            "long-enough-1",
        ),
    ):
        bad = runner.invoke(app, args, env={"QUNBANG_NEW_PASSWORD": password})
        assert bad.exit_code == 2, (args, bad.output)
        assert "Traceback" not in bad.output


def test_user_add_makes_a_grid_worker_of_one_grid(env: str, world: World) -> None:
    """user add --role grid_worker with a community and a grid code ties the account to that
    grid; a grid code the community lacks exits 2."""
    engine = make_engine(env)
    with session_factory(engine)() as session:
        community = session.get_one(Community, world.communities[0])
        grid = session.scalars(select(Grid).where(Grid.community_id == community.id)).first()
        assert grid is not None
        codes = (community.code, grid.code, grid.id)
    engine.dispose()
    base = ["user", "add", "--role", "grid_worker", "--street", "demo", "--community", codes[0]]
    secret = {"QUNBANG_NEW_PASSWORD": "long-enough-1"}
    ok = runner.invoke(app, [*base, "--grid", codes[1], "gw"], env=secret)
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, [*base, "--grid", "NOPE", "gw2"], env=secret)
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    query = select(UserRow.grid_id).where(UserRow.username == "gw")
    assert _count(env, query) == codes[2]


def test_db_upgrade_is_idempotent(env: str) -> None:
    """db upgrade on an up-to-date database succeeds again."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0


@pytest.mark.timeout(240)
@pytest.mark.slow
def test_demo_loads_the_street_matches_tomorrow_and_prints_logins(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """demo --no-serve on a new SQLite file: demo street, a done run for tomorrow, logins that
    work (the helper login holds offers); a second demo reuses the street."""
    url = f"sqlite:///{tmp_path / 'var' / 'demo.db'}"
    monkeypatch.setenv("QUNBANG_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        first = runner.invoke(app, ["demo", "--no-serve", "--time-limit", "0.5"])
        assert first.exit_code == 0, first.output
        assert "http://127.0.0.1:8000" in first.output
        assert re.search(r"staff", first.output) and "helper" in first.output
        second = runner.invoke(app, ["demo", "--no-serve", "--time-limit", "0.5"])
        assert second.exit_code == 0, second.output
    finally:
        get_settings.cache_clear()
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    runs = _count(url, select(func.count()).select_from(RunRow).where(RunRow.status == "done"))
    assert runs == 2
    helper = _count(url, select(UserRow.helper_id).where(UserRow.username == "helper"))
    assert (
        _count(url, select(func.count()).select_from(OfferRow).where(OfferRow.helper_id == helper))
        > 0
    )
    engine = make_engine(url)
    with session_factory(engine)() as session:
        dates = set(session.scalars(select(RunRow.date)))
    engine.dispose()
    assert len(dates) == 1 and abs((dates.pop() - tomorrow).days) <= 1
