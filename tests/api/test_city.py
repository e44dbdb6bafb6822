"""The city's nightly run (``qunbang nightly --all``) and city scenarios: every street solved on
the fan-out (Ray in local mode with two CPUs, one instance for the session; or this machine's
way without Ray), read and written by the driver as a single street's run is."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import api.services.matching.nightly as nightly
from api.cli.main import app
from api.services.ledger.seed import seed_street
from api.services.matching import fanout, polite
from api.services.matching.city import run_city
from api.settings import Settings, get_settings
from api.store.tables import AssignmentRow, OfferRow, RunRow
from matcher.generator import preset
from matcher.params import SolveParams
from tests.api.conftest import DATE, StateContext, database_state

SCENARIOS = Path(__file__).parent.parent.parent / "scenarios"
SPLIT = 30  # the city's first street (40 orders) is solved in two parts
runner = CliRunner()


def _seed_city(state: StateContext) -> list[int]:
    """Three small streets with orders dated ``DATE``: two in town, one pastoral."""
    with state.sessions() as session:
        ids = [
            seed_street(session, spec, code=code, name=name, order_date=DATE).street.id
            for spec, code, name in (
                (preset("tiny", seed=1), "a", "青山街道"),
                (preset("tiny", seed=2, orders=20), "b", "东河街道"),
                (preset("pastoral", seed=3, orders=20), "c", "巴彦镇"),
            )
        ]
        session.commit()
    return ids


city = database_state("city", _seed_city, needs=())


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """Short solves, solved at the caller's priority (tests need no politeness)."""
    return settings.model_copy(update={"nightly_time_limit_s": 2, "nightly_nice": 0})


def _offers(sessions: sessionmaker[Session], street_id: int) -> int:
    with sessions() as session:
        query = (
            select(func.count())
            .select_from(OfferRow)
            .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
            .join(RunRow, AssignmentRow.run_id == RunRow.id)
            .where(RunRow.street_id == street_id)
        )
        return int(session.scalar(query) or 0)


@pytest.mark.timeout(180)
def test_city_run_on_ray_matches_every_street_and_records_the_split(
    ray_local: object, sessions: sessionmaker[Session], quick: Settings, city: list[int]
) -> None:
    """On Ray every street gets a done run with offers, written by the driver; the street
    above the split size is solved in two parts and its figures say so (verified: no
    violations); every task's timing is kept."""
    events: list[tuple[str, str]] = []
    result = run_city(
        sessions, quick, DATE, workers=2, max_orders=SPLIT, use_ray=True,
        progress=lambda event, name, outcome: events.append((event, name)),
    )  # fmt: skip
    assert result.pool == "ray" and not result.failed
    assert [o.street_id for o in result.outcomes] == city
    for outcome in result.outcomes:
        assert outcome.run is not None and outcome.run.status == "done"
        assert _offers(sessions, outcome.street_id) > 0
    split = result.outcomes[0].run.figures["split"]  # type: ignore[union-attr]
    assert len(split["parts"]) == 2 and split["violations"] == 0
    assert all("split" not in o.run.figures for o in result.outcomes[1:])  # type: ignore[union-attr]
    assert {name for event, name in events if event == "done"} == {o.name for o in result.outcomes}
    labels = {t.label for t in result.timings}
    assert {"青山街道#1", "青山街道#2", "东河街道", "巴彦镇"} <= labels


@pytest.mark.timeout(120)
def test_a_failing_street_is_reported_and_the_others_are_written(
    sessions: sessionmaker[Session],
    quick: Settings,
    city: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One street whose run breaks is reported with its message and recorded as failed; the
    other streets' runs are done (here on this machine's way, one street after another)."""
    broken = city[1]
    read = nightly.read_snapshot

    def read_or_break(session: Session, street_id: int, date: dt.date) -> nightly.Snapshot:
        if street_id == broken:
            raise RuntimeError("the street's ledger is unreadable")
        return read(session, street_id, date)

    monkeypatch.setattr(nightly, "read_snapshot", read_or_break)
    result = run_city(sessions, quick, DATE, workers=1, use_ray=False)
    assert result.pool == "sequential"
    failed = {o.street_id: o.error for o in result.failed}
    assert list(failed) == [broken] and "unreadable" in (failed[broken] or "")
    with sessions() as session:
        statuses = dict(session.execute(select(RunRow.street_id, RunRow.status)).all())
    assert statuses == {city[0]: "done", broken: "failed", city[2]: "done"}


def test_a_task_solves_politely_as_the_nightly_run_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's task solves in a thread at the nightly niceness and under SCHED_IDLE (Linux),
    and gives back the solver's result with its seconds."""
    import threading

    seen: list[tuple[int, int]] = []

    def fake_solve(problem: object, params: object) -> str:
        me = threading.get_native_id()
        seen.append((os.getpriority(os.PRIO_PROCESS, me), os.sched_getscheduler(0)))
        return "result"

    monkeypatch.setattr(polite, "solve", fake_solve)
    politeness = polite.Politeness(nice=7, idle=True)
    result, seconds, cpu_s = polite.solve_task("p", SolveParams(), politeness)  # type: ignore[arg-type]
    assert result == "result" and seconds >= 0 and cpu_s >= 0
    assert seen[0][0] >= 7 and seen[0][1] == os.SCHED_IDLE


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    """Point the commands at the test database, with short solves."""
    monkeypatch.setenv("QUNBANG_DATABASE_URL", db_url)
    monkeypatch.setenv("QUNBANG_NIGHTLY_TIME_LIMIT_S", "2")
    monkeypatch.setenv("QUNBANG_NIGHTLY_NICE", "0")
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


@pytest.mark.timeout(120)
def test_nightly_all_without_ray_says_so_and_prints_each_street(
    env: str, city: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Ray, ``nightly --all`` says it solves on this machine, prints a line per street
    and the city's total, and exits 0."""
    monkeypatch.setattr(fanout, "ray_installed", lambda: False)
    args = ["--lang", "en", "nightly", "--all", "--workers", "1", "--date", DATE.isoformat()]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Ray is not installed" in result.output
    for name in ("青山街道", "东河街道", "巴彦镇"):
        assert f"{name}: done in" in result.output
    assert "3 street(s) done, 0 failed" in result.output


def test_nightly_all_and_street_exclude_each_other(env: str, city: list[int]) -> None:
    """``--all`` with ``--street`` is bad input: exit 2, nothing run."""
    result = runner.invoke(app, ["--lang", "en", "nightly", "--all", "--street", "a"])
    assert result.exit_code == 2 and "--all" in result.output


@pytest.mark.timeout(180)
def test_city_scenario_runs_every_street_on_ray(ray_local: object, tmp_path: Path) -> None:
    """``scenario run`` on a city file solves each street on Ray and reports each street and
    the city; the street above the split size is solved in parts (JSON)."""
    out = tmp_path / "city.json"
    args = ["--lang", "en", "scenario", "run", str(SCENARIOS / "city-small.yaml"),
            "--time-limit", "1", "--json", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Solving on Ray" in result.output and "City" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [s["name"] for s in data["streets"]] == ["青山街道", "东河街道", "巴彦镇"]
    assert len(data["streets"][0]["split"]["parts"]) == 2
    assert data["city"]["orders_total"] == sum(s["orders_total"] for s in data["streets"])
    assert data["pool"] == "ray"


@pytest.mark.parametrize("name", ["city.yaml", "city-small.yaml"])
def test_shipped_city_files_load_and_name_their_streets(name: str) -> None:
    """Each shipped city file is recognised as one, loads, and each of its streets is a
    one-street scenario of its own; the city file has the size issue 13 asks for."""
    from api.planner.city import is_city_file, load_city, street_scenario
    from api.planner.scenario.load import street_spec

    path = SCENARIOS / name
    assert is_city_file(path) and not is_city_file(SCENARIOS / "pastoral.yaml")
    loaded = load_city(path)
    specs = [street_spec(street_scenario(loaded, s, path)) for s in loaded.city.streets]
    assert all(spec is not None for spec in specs)
    if name == "city.yaml":
        assert len(specs) == 20
        assert sum(s.helpers for s in specs if s) == 115_000
        assert sum(s.orders for s in specs if s) == 20_000
        assert {s.geography for s in specs if s} == {"town", "pastoral"}


def test_a_city_file_naming_a_street_twice_is_refused(tmp_path: Path) -> None:
    """Two streets of one name are bad input naming the file and the name."""
    from api.planner.city import load_city
    from api.planner.scenario import ScenarioError

    path = tmp_path / "twice.yaml"
    path.write_text(
        "name: twice\ncity:\n  streets:\n"
        "    - {name: A, generated: {preset: tiny}}\n    - {name: A, generated: {preset: tiny}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match="A"):
        load_city(path)
