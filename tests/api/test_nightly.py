"""The nightly run: one transaction for offers and record, killed runs, re-runs, the endpoint."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

import api.services.matching.nightly as nightly
from api.services.errors import BadInput
from api.services.matching.nightly import NightlyFailed, run_nightly
from api.services.matching.nightly_write import NightlyWrite
from api.services.matching.runs import INTERRUPTED, list_runs
from api.services.offers.answers import accept
from api.settings import Settings
from api.store.tables import (
    AssignmentRow,
    HelperRow,
    ItemRow,
    NotificationRow,
    OfferRow,
    OrderRow,
    RunRow,
    RunUnmatched,
)
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Result
from tests.api.conftest import World, login
from tests.api.loop_support import (
    assert_db_plan_valid,
    live_teams,
    make_roomy,
    move_orders,
    split_street,
    staff_actor,
    tomorrow,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def day(sessions: sessionmaker[Session], world: World, settings: Settings) -> dt.date:
    day = tomorrow(settings)
    move_orders(sessions, day)
    return day


def count(session: Session, column) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count(column))) or 0


def test_run_writes_offers_and_record_together(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """A run leaves a done record with figures, one pending offer per team place of each
    matched order (tagged with the run), an explanation per unmatched order, and the messages."""
    run = run_nightly(sessions, settings, world.street_id, day)
    assert run.status == "done" and run.finished_at is not None
    figures = run.figures
    assert figures["orders"] == 40
    assert 0 < figures["covered"] <= 40
    assert figures["coverage_ratio"] >= figures["greedy_coverage_ratio"]
    with sessions() as session:
        teams = live_teams(session, day)
        assert len(teams) == figures["covered"]
        places = 0
        for assignment, members in teams.values():
            assert assignment.run_id == run.id and assignment.source == "nightly"
            size = session.get_one(ItemRow, assignment.order.item).team_size
            assert len(members) == size and all(o.status == "pending" for o in members)
            assert all(o.distance_km is not None for o in members)
            assert assignment.order.status == "offered"
            places += size
        assert count(session, OfferRow.id) == places == figures["offers_created"]
        unmatched = session.scalars(select(RunUnmatched).where(RunUnmatched.run_id == run.id))
        rows = list(unmatched)
        assert len(rows) == 40 - figures["covered"]
        assert all(r.params and r.params["item"] and r.reason for r in rows)
        kinds = session.scalars(select(NotificationRow.kind)).all()
        assert kinds.count("offer") == places
        open_orders = session.scalar(
            select(func.count(OrderRow.id)).where(OrderRow.status == "open")
        )
        assert open_orders == 40 - figures["covered"]
        assert_db_plan_valid(session, world.street_id, day)


def test_failure_inside_the_write_transaction_leaves_no_offers(
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error half-way through writing rolls everything back: no assignment, offer, message or
    explanation; only the run record, marked failed with the error."""
    real = NightlyWrite._write_teams
    written: list[int] = []

    def failing(self: NightlyWrite, connection):  # type: ignore[no-untyped-def]
        written.append(len(real(self, connection)))  # assignments and offers sent, then
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(NightlyWrite, "_write_teams", failing)
    with pytest.raises(NightlyFailed, match="disk on fire"):
        run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        assert count(session, AssignmentRow.id) == 0
        assert count(session, OfferRow.id) == 0
        assert count(session, NotificationRow.id) == 0
        assert count(session, RunUnmatched.id) == 0
        assert set(session.scalars(select(OrderRow.status))) == {"open"}
        run = session.scalars(select(RunRow)).one()
        assert run.status == "failed" and "disk on fire" in run.error
    assert written and written[0] > 0  # it failed with offers sent in its transaction


KILLED = """
import datetime as dt, pathlib, sys, time
import api.services.matching.nightly as nightly
from api.settings import Settings
from api.store.db import make_engine, session_factory

url, street, day, marker, phase = sys.argv[1:6]

def hang():
    pathlib.Path(marker).write_text("ready")
    time.sleep(300)

if phase == "solve":
    def solve(*args, **kwargs):
        hang()
    nightly.solve = solve
else:
    from api.services.matching.nightly_write import NightlyWrite
    real = NightlyWrite._write_teams
    def teams(self, connection):  # the assignments and offers sent, the transaction open
        real(self, connection)
        hang()
    NightlyWrite._write_teams = teams
settings = Settings(database_url=url, nightly_time_limit_s=5)
sessions = session_factory(make_engine(url))
nightly.run_nightly(sessions, settings, int(street), dt.date.fromisoformat(day))
"""


@pytest.mark.parametrize("phase", ["solve", "write"])
def test_killed_process_leaves_only_a_run_reported_failed(
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
    db_url: str,
    tmp_path: Path,
    phase: str,
) -> None:
    """A run process killed (SIGKILL) while solving or half-way through writing leaves no offer;
    its ``running`` record is reported failed by listings and by the next run, which succeeds."""
    marker = tmp_path / "ready"
    args = [db_url, str(world.street_id), day.isoformat(), str(marker), phase]
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED, *args],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the run never reached the point to kill"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with sessions() as session:
        assert count(session, OfferRow.id) == 0
        assert count(session, AssignmentRow.id) == 0
        assert session.scalars(select(RunRow.status)).one() == "running"
        listed = list_runs(session, settings, staff_actor(sessions, world))
        assert [r.status for r in listed.items] == ["failed"]
        assert listed.items[0].error == "运行中断：进程在完成前结束"  # shown in zh_CN
    run = run_nightly(sessions, settings, world.street_id, day)
    assert run.status == "done"
    with sessions() as session:
        assert count(session, OfferRow.id) == run.figures["offers_created"] > 0


def test_next_run_reports_an_interrupted_run_failed(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """A ``running`` record left by a dead process (here: long past its time limit) is marked
    failed by the next run of the same street and date."""
    with sessions() as session:
        stale = RunRow(
            street_id=world.street_id,
            date=day,
            status="running",
            started_at=dt.datetime(2020, 1, 1),
            settings={"time_limit_s": 5},
        )
        session.add(stale)
        session.commit()
        stale_id = stale.id
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        old = session.get_one(RunRow, stale_id)
        assert old.status == "failed" and old.error == INTERRUPTED


def test_rerun_replaces_pending_offers_and_keeps_accepted_ones(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """Re-running a date never touches accepted offers (same helper, assignment, start, even for
    a helper deactivated since), withdraws pending offers the new plan drops (telling those
    helpers), and leaves unchanged pending offers as they were."""
    make_roomy(sessions)
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        teams = sorted(live_teams(session, day).items())
        accepted_offers = [members[0] for _, (_, members) in teams[:3]]
        for offer in accepted_offers:
            accept(session, settings, offer.helper_id, offer.id)
        kept = {
            o.id: (o.helper_id, o.assignment_id, o.assignment.start_minute) for o in accepted_offers
        }
        # One helper with a pending offer and one who accepted leave the ledger.
        dropped = teams[5][1][1][0]
        gone_helpers = [dropped.helper_id, accepted_offers[0].helper_id]
        assert dropped.helper_id not in {o.helper_id for o in accepted_offers}
        session.execute(
            update(HelperRow).where(HelperRow.id.in_(gone_helpers)).values(active=False)
        )
        session.commit()
        before = set(session.scalars(select(OfferRow.id).where(OfferRow.status == "pending")))
    rerun = run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        for offer_id, (helper_id, assignment_id, start) in kept.items():
            offer = session.get_one(OfferRow, offer_id)
            assert offer.status == "accepted"
            assert (offer.helper_id, offer.assignment_id) == (helper_id, assignment_id)
            assert offer.assignment.status == "active"
            assert offer.assignment.start_minute == start
        assert session.get_one(OfferRow, dropped.id).status == "withdrawn"
        change = session.scalars(
            select(NotificationRow).where(NotificationRow.kind == "change")
        ).all()
        told = {n.payload["offer"] for n in change}
        assert dropped.id in told and not told & set(kept)
        still = set(session.scalars(select(OfferRow.id).where(OfferRow.status == "pending")))
        assert len(before & still) >= len(before) - rerun.figures["offers_withdrawn"]
        assert rerun.figures["offers_withdrawn"] >= 1
        assert rerun.figures["offers_kept"] > 0
        assert_db_plan_valid(session, world.street_id, day)


def test_rerun_without_changes_sends_nothing(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """A second run on an unchanged street keeps every pending offer and queues no message."""
    first = run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        offers = set(session.scalars(select(OfferRow.id).where(OfferRow.status == "pending")))
        messages = count(session, NotificationRow.id)
    second = run_nightly(sessions, settings, world.street_id, day)
    assert second.figures["offers_kept"] == first.figures["offers_created"]
    assert second.figures["offers_created"] == second.figures["offers_withdrawn"] == 0
    with sessions() as session:
        assert set(session.scalars(select(OfferRow.id).where(OfferRow.status == "pending"))) == (
            offers
        )
        assert count(session, NotificationRow.id) == messages


def test_partial_team_nobody_can_complete_does_not_fail_the_run(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """An order whose accepted member nobody can join leaves the run done: the accepted offer
    stays, the order stays offered, and the run explains why the place is empty."""
    make_roomy(sessions)
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        order_id, (_, members) = next(
            (k, v) for k, v in sorted(live_teams(session, day).items()) if len(v[1]) == 2
        )
        first, second = members
        accept(session, settings, first.helper_id, first.id)
        session.execute(
            update(HelperRow).where(HelperRow.id != first.helper_id).values(active=False)
        )
        session.execute(update(OfferRow).where(OfferRow.id == second.id).values(status="declined"))
        session.commit()
    run = run_nightly(sessions, settings, world.street_id, day)
    assert run.status == "done" and run.figures["deferred"] == 1
    with sessions() as session:
        assert session.get_one(OfferRow, first.id).status == "accepted"
        assert session.get_one(OrderRow, order_id).status == "offered"
        why = session.scalars(
            select(RunUnmatched).where(
                RunUnmatched.run_id == run.id, RunUnmatched.order_id == order_id
            )
        ).one()
        assert why.params is not None and why.explanation_en is None  # facts, no sentence


def test_unknown_street_is_bad_input(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """A street that does not exist is ``BadInput`` (exit code 2 in the CLI) and leaves no run."""
    with pytest.raises(BadInput):
        run_nightly(sessions, settings, 9999, day)
    with sessions() as session:
        assert count(session, RunRow.id) == 0


# ----------------------------------------------------------------------------- the endpoint


def test_staff_run_endpoint_and_scoped_explanations(
    client: TestClient, sessions: sessionmaker[Session], world: World, day: dt.date
) -> None:
    """Street staff start a run and read it; staff of one community see only their community's
    unmatched orders; planners read runs; community staff may not start one; helpers get 404."""
    second = split_street(sessions, world)
    staff = login(client, "staff")
    response = client.post("/runs", json={"date": day.isoformat()}, headers=staff)
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["status"] == "done" and run["figures"]["covered"] > 0
    assert "pid" not in run["settings"]
    everyone = client.get(f"/runs/{run['id']}", headers=staff).json()["unmatched"]
    assert {u["community_id"] for u in everyone} == {world.communities[0], second}
    assert all(u["explanation_zh"] and u["explanation_en"] for u in everyone)
    own = client.get(f"/runs/{run['id']}", headers=login(client, "staff_c1")).json()["unmatched"]
    assert own and {u["community_id"] for u in own} == {world.communities[0]}
    assert len(own) < len(everyone)
    listed = client.get(f"/runs?date={day}&status=done", headers=login(client, "planner"))
    assert listed.status_code == 200
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["id"] == run["id"]
    assert client.post("/runs", json={}, headers=login(client, "staff_c1")).status_code == 403
    assert client.post("/runs", json={}, headers=login(client, "helper1")).status_code == 404
    assert client.get("/runs", headers=login(client, "helper1")).status_code == 404
    assert client.get("/runs/99999", headers=staff).status_code == 404


STRANDED = """
select count(*) from offers f join assignments a on a.id = f.assignment_id
where f.status in ('pending', 'accepted') and a.status not in ('active', 'done', 'confirmed')
"""


def test_reruns_with_answers_between_strand_nothing_and_keep_teams(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """Five re-runs with accepts and declines between them: no live offer is ever left on an
    ended assignment, every accepted member stays (same assignment and start), pending members
    stay where they were unless the run moved their order, and each plan passes the verifier."""
    from sqlalchemy import text

    from api.services.offers.answers import decline

    make_roomy(sessions)
    run_nightly(sessions, settings, world.street_id, day)
    accepted: dict[int, tuple[int, int | None]] = {}
    for round_ in range(5):
        with sessions() as session:
            teams = sorted(live_teams(session, day).items())
            for n, (_, (assignment, members)) in enumerate(teams):
                pending = [o for o in members if o.status == "pending"]
                if not pending:
                    continue
                if (n + round_) % 3 == 0:
                    accept(session, settings, pending[0].helper_id, pending[0].id)
                    accepted[pending[0].id] = (assignment.id, assignment.start_minute)
                elif (n + round_) % 5 == 1:
                    decline(session, settings, pending[0].helper_id, pending[0].id, "busy")
            before = {
                o.id: (o.helper_id, a.start_minute)
                for _, (a, members) in live_teams(session, day).items()
                for o in members
                if o.status == "pending"
            }
        rerun = run_nightly(sessions, settings, world.street_id, day)
        with sessions() as session:
            assert session.scalar(text(STRANDED)) == 0
            for offer_id, (assignment_id, start) in accepted.items():
                offer = session.get_one(OfferRow, offer_id)
                assert offer.status == "accepted" and offer.assignment_id == assignment_id
                assert offer.assignment.start_minute == start
            # Only answers changed: a pending member is kept at the same start, unless they
            # declined another order of that resident (the matcher's refusal rule).
            refused = set(
                session.execute(
                    select(OfferRow.helper_id, OrderRow.resident_id)
                    .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
                    .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
                    .where(OfferRow.status == "declined")
                ).all()
            )
            for offer_id, (helper_id, start) in before.items():
                offer = session.get_one(OfferRow, offer_id)
                if offer.status in ("pending", "accepted"):
                    assert offer.assignment.start_minute == start
                else:
                    assert offer.status == "withdrawn"
                    assert (helper_id, offer.assignment.order.resident_id) in refused
            assert rerun.figures["orders_withdrawn"] == 0
            assert rerun.figures["pending_kept"] is True
            assert_db_plan_valid(session, world.street_id, day)


def test_rerun_counts_what_it_changed_per_order(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """A re-run after a pending member leaves the ledger counts that order as moved (its place
    refilled) and every other order as kept; the first run counts every team as new."""
    make_roomy(sessions)
    first = run_nightly(sessions, settings, world.street_id, day)
    assert first.figures["orders_new"] == first.figures["covered"]
    assert first.figures["orders_kept"] == first.figures["orders_moved"] == 0
    with sessions() as session:
        teams = sorted(live_teams(session, day).items())
        gone = teams[0][1][1][0]
        session.execute(
            update(HelperRow).where(HelperRow.id == gone.helper_id).values(active=False)
        )
        session.commit()
    rerun = run_nightly(sessions, settings, world.street_id, day)
    figures = rerun.figures
    assert figures["orders_moved"] >= 1
    assert figures["orders_kept"] + figures["orders_moved"] + figures["orders_filled"] == len(teams)
    assert figures["orders_withdrawn"] == 0
    with sessions() as session:
        assert session.get_one(OfferRow, gone.id).status == "withdrawn"


def test_a_plan_the_checker_rejects_is_never_sent(
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should the solver ever return a plan breaking a hard rule (here: one team swapped for a
    helper it does not fit), the run fails before writing: no offer goes out."""
    real_solve = nightly.solve

    def broken_solve(problem, params):  # type: ignore[no-untyped-def]
        result = real_solve(problem, params)
        first = result.assignments[0]
        order = problem.order(first.order)
        needs = problem.item_of(order).required_skills
        stranger = next(h.id for h in problem.helpers if not needs <= h.skills)
        swapped = first.model_copy(update={"helpers": (stranger,)})
        return result.model_copy(update={"assignments": (swapped, *result.assignments[1:])})

    monkeypatch.setattr(nightly, "solve", broken_solve)
    with pytest.raises(NightlyFailed):
        run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        assert count(session, OfferRow.id) == 0
        assert session.scalars(select(RunRow.status)).one() == "failed"


@pytest.mark.skipif(
    not hasattr(os, "setpriority") or not hasattr(os, "SCHED_IDLE"),
    reason="no per-thread niceness or SCHED_IDLE here",
)
def test_nightly_solve_runs_at_lower_cpu_priority_and_reports_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The nightly solve runs in its own thread at the configured niceness and under SCHED_IDLE
    (the caller's own priority and policy untouched), returns the solver's result and re-raises
    the solver's error; with neither set it solves in the caller's thread."""
    import threading

    def me() -> tuple[int, int]:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), os.sched_getscheduler(0)

    seen: list[tuple[int, int]] = []
    before = me()

    def fake_solve(problem: object, params: object) -> str:
        seen.append(me())
        if problem == "boom":
            raise RuntimeError("solver broke")
        return "result"

    monkeypatch.setattr(nightly, "solve", fake_solve)
    settings = Settings(database_url="sqlite://", nightly_nice=7, nightly_idle=True)
    params = nightly._params(settings)
    assert nightly._solve_politely("p", params, settings) == "result"  # type: ignore[arg-type]
    assert seen == [(max(7, before[0]), os.SCHED_IDLE)] and me() == before
    with pytest.raises(RuntimeError, match="solver broke"):
        nightly._solve_politely("boom", params, settings)  # type: ignore[arg-type]
    plain = settings.model_copy(update={"nightly_nice": 0, "nightly_idle": False})
    assert nightly._solve_politely("p", params, plain) == "result"  # type: ignore[arg-type]
    assert seen[-1] == before  # neither: solved in the caller's thread, as it was


def test_nightly_reads_and_prepares_as_politely_as_it_solves(
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run's reads and preparation run where its solve does (its niceness, SCHED_IDLE); its
    write, which takes the street's lock, in the caller's thread as it was."""
    import threading

    def me() -> tuple[int, int]:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), os.sched_getscheduler(0)

    seen: dict[str, tuple[int, int]] = {}
    read, write = nightly.read_snapshot, nightly._write

    def reading(*args: object, **kwargs: object) -> object:
        seen["read"] = me()
        return read(*args, **kwargs)  # type: ignore[arg-type]

    def writing(*args: object, **kwargs: object) -> object:
        seen["write"] = me()
        return write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(nightly, "read_snapshot", reading)
    monkeypatch.setattr(nightly, "_write", writing)
    before = me()
    polite = {"nightly_nice": 5, "nightly_idle": True, "nightly_time_limit_s": 1.0}
    run = run_nightly(sessions, settings.model_copy(update=polite), world.street_id, day)
    assert run.status == "done"
    assert seen == {"read": (max(5, before[0]), os.SCHED_IDLE), "write": before}
    assert me() == before


def test_nightly_solves_with_the_configured_number_of_workers(
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``nightly_workers`` is the number of CP-SAT workers the run's solve is given, and the
    run records it."""
    given: list[int] = []
    solve = nightly.solve

    def counting(problem: Problem, params: SolveParams) -> Result:
        given.append(params.workers)
        return solve(problem, params)

    monkeypatch.setattr(nightly, "solve", counting)
    update = {"nightly_workers": 1, "nightly_time_limit_s": 1.0}
    run = run_nightly(sessions, settings.model_copy(update=update), world.street_id, day)
    assert run.status == "done"
    assert given == [1] and run.settings["workers"] == 1


def test_a_batch_engines_postgresql_backends_run_at_its_niceness(db_url: str) -> None:
    """``lower_backends``: each PostgreSQL server process serving the engine's connections is
    reniced (the server runs here and may be reniced by this user); SQLite: nothing to do."""
    from sqlalchemy import text

    from api.services.matching.polite import lower_backends
    from api.store.db import make_engine

    engine = make_engine(db_url)
    try:
        installed = lower_backends(engine, 17)
        assert installed == db_url.startswith("postgresql")
        if not installed:
            return
        with engine.connect() as connection:
            backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            if os.stat(f"/proc/{backend}").st_uid != os.geteuid() and os.geteuid() != 0:
                pytest.skip("the server's processes are another user's: they cannot be reniced")
            assert os.getpriority(os.PRIO_PROCESS, backend) >= 17
    finally:
        engine.dispose()
