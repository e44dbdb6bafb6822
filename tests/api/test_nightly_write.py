"""The nightly run's batched write: the rows it writes are exactly those the row-by-row write
(``offers.assign.create_assignment`` per order, as the run wrote before) makes of the same plan,
and its statements do not grow with the street's orders."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

import api.services.matching.nightly as nightly
from api.services.matching.nightly import NightlyPlan, Solved
from api.services.matching.plan import Stale
from api.services.offers.answers import accept, decline
from api.services.offers.assign import (
    add_offer,
    create_assignment,
    live_offers,
    notify_offer,
    refresh_order_status,
)
from api.services.offers.rematch import helper_km
from api.settings import Settings
from api.store.statuses import AssignmentSource, AssignmentStatus, OfferStatus, OrderStatus
from api.store.tables import (
    AssignmentRow,
    HelperRow,
    NotificationRow,
    OfferRow,
    OrderRow,
    RunRow,
    utcnow,
)
from matcher.result import Assignment
from matcher.solve import solve_greedy
from tests.api.conftest import World, sql_statements
from tests.api.loop_support import live_teams, make_roomy, move_orders, tomorrow

# ----------------------------------------------------------------------------- the reference

Apply = Callable[[Session, Settings, int, NightlyPlan, dt.datetime], Counter[str]]


def row_by_row(
    session: Session, settings: Settings, run_id: int, plan: NightlyPlan, now: dt.datetime
) -> Counter[str]:
    """The nightly write as it was before batching (``nightly._Writer``), kept as the batched
    write's reference: per order a read, an assignment in its own savepoint, its offers, one
    notification per offer, the order's status."""
    counts: Counter[str] = Counter()
    problem = plan.problem

    def withdraw(assignment: AssignmentRow, keep: set[int]) -> int:
        withdrawn = 0
        for offer in live_offers(assignment):
            if offer.status != OfferStatus.PENDING or offer.helper_id in keep:
                continue
            moved = session.execute(
                update(OfferRow)
                .where(OfferRow.id == offer.id, OfferRow.status == OfferStatus.PENDING)
                .values(status=OfferStatus.WITHDRAWN, responded_at=now)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise Stale
            session.refresh(offer)
            notify_offer(session, offer, assignment.order, "change")
            withdrawn += 1
        counts["offers_withdrawn"] += withdrawn
        session.refresh(assignment)
        return withdrawn

    def create(order: OrderRow, planned: Assignment) -> None:
        team = problem.keys.helpers.rows(planned.helpers)
        create_assignment(
            session,
            settings,
            order,
            team,
            source=AssignmentSource.NIGHTLY,
            start_minute=planned.start,
            run_id=run_id,
            distances={h: helper_km(problem, h, order) for h in team},
            now=now,
        )
        counts["offers_created"] += len(team)

    planned_by = {a.order: a for a in plan.result.assignments}
    live_by = nightly._live_assignments(session, [o.id for o in problem.orders.values()])
    for key, order in problem.orders.items():
        planned, live = planned_by.get(key), live_by.get(order.id)
        if live is not None:
            accepted = any(o.status == OfferStatus.ACCEPTED for o in live.offers)
            moved = planned is None or live.start_minute != planned.start
            if moved and not accepted:
                withdraw(live, keep=set())
                if not live_offers(live):
                    live.status = AssignmentStatus.WITHDRAWN
                    live.ended_at = now
                    session.flush()
                refresh_order_status(session, order)
                if planned is None:
                    counts["orders_withdrawn"] += 1
                    continue
                counts["orders_moved"] += 1
                create(order, planned)
                continue
            if planned is None:
                counts["orders_kept"] += 1
                continue
            team = problem.keys.helpers.rows(planned.helpers)
            current = {o.helper_id for o in live_offers(live)}
            withdrawn = withdraw(live, keep=set(team))
            added = [h for h in team if h not in current]
            for helper_id in added:
                km = helper_km(problem, helper_id, order)
                add_offer(session, settings, live, helper_id, distance_km=km, now=now)
            counts["offers_created"] += len(added)
            counts["offers_kept"] += len(current & set(team))
            outcome = "orders_moved" if withdrawn else "orders_filled" if added else "orders_kept"
            counts[outcome] += 1
            refresh_order_status(session, order)
        elif planned is not None:
            counts["orders_new"] += 1
            create(order, planned)
    return counts


# ----------------------------------------------------------------------------- helpers


def greedy(problem: Any, params: Any, _regions: Any) -> Solved:
    """A quick, deterministic solver: the hand rule."""
    return Solved(solve_greedy(problem, params))


def shuffled(plan: NightlyPlan, rng: random.Random) -> NightlyPlan:
    """The plan with random changes order by order: dropped, moved to another start, a member
    swapped, a new team, or as planned (the write must not care whether a plan is good)."""
    helpers = list(plan.problem.keys.helpers.to_key.values())
    planned = {a.order: a for a in plan.result.assignments}
    changed = []
    for key in plan.problem.orders:
        was = planned.get(key)
        roll = rng.random()
        if roll < 0.15:
            continue  # no visit
        if roll < 0.3 or was is None:
            team = tuple(rng.sample(helpers, rng.choice((1, 2))))
            changed.append(Assignment(order=key, helpers=team, start=rng.choice((None, 600))))
        elif roll < 0.45:
            start = (was.start or 480) + 30
            changed.append(Assignment(order=key, helpers=was.helpers, start=start))
        elif roll < 0.6:
            swap = rng.choice([h for h in helpers if h not in was.helpers])
            changed.append(Assignment(order=key, helpers=(*was.helpers[1:], swap), start=was.start))
        else:
            changed.append(was)
    result = plan.result.model_copy(update={"assignments": tuple(changed)})
    return dataclasses.replace(plan, result=result)


def rows(session: Session, day: dt.date, before: dict[str, int]) -> dict[str, list[Any]]:
    """The day's orders, assignments, offers and notifications, every column but the insert
    time the database stamps (``created_at``); rows added since ``before`` (the largest ids)
    named by their rank, so two writes of the same plan compare whatever their sequences."""
    names: dict[str, dict[int, Any]] = {}

    def named(table: str, ids: list[int]) -> dict[int, Any]:
        added = sorted(i for i in ids if i > before[table])
        names[table] = {i: i for i in ids} | {i: ("new", n) for n, i in enumerate(added)}
        return names[table]

    def values(row: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        columns = row.__table__.columns.keys()
        return {c: getattr(row, c) for c in columns if c not in ("id", "created_at", *skip)}

    session.expire_all()
    orders = session.scalars(select(OrderRow).where(OrderRow.date == day).order_by(OrderRow.id))
    order_rows = [(o.id, values(o)) for o in orders]
    assignments = session.scalars(
        select(AssignmentRow)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .where(OrderRow.date == day)
        .order_by(AssignmentRow.id)
    ).all()
    a_names = named("assignments", [a.id for a in assignments])
    offers = session.scalars(
        select(OfferRow)
        .where(OfferRow.assignment_id.in_([a.id for a in assignments] or [-1]))
        .order_by(OfferRow.id)
    ).all()
    o_names = named("offers", [o.id for o in offers])
    notices = session.scalars(select(NotificationRow).order_by(NotificationRow.id)).all()
    n_names = named("notifications", [n.id for n in notices])
    return {
        "orders": order_rows,
        "assignments": [(a_names[a.id], values(a)) for a in assignments],
        "offers": [
            (o_names[o.id], a_names[o.assignment_id], values(o, ("assignment_id",))) for o in offers
        ],
        "notifications": [
            (
                n_names[n.id],
                values(n, ("payload",)),
                {**n.payload, "offer": o_names.get(n.payload["offer"], n.payload["offer"])},
            )
            for n in notices
        ],
    }


def largest_ids(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    return {
        "assignments": session.scalar(select(func.max(AssignmentRow.id))) or 0,
        "offers": session.scalar(select(func.max(OfferRow.id))) or 0,
        "notifications": session.scalar(select(func.max(NotificationRow.id))) or 0,
    }


def first_run(sessions: sessionmaker[Session], settings: Settings, world: World) -> dt.date:
    """Tomorrow on the roomy street, matched by a run with every third order still waiting for
    review (they are open for the runs after: orders with no team yet)."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    make_roomy(sessions)
    with sessions() as session:
        later = session.scalars(select(OrderRow.id).order_by(OrderRow.id)).all()[::3]
        waiting = update(OrderRow).where(OrderRow.id.in_(later))
        session.execute(waiting.values(status=OrderStatus.REVIEW))
        session.commit()
        nightly.run_nightly(sessions, settings, world.street_id, day, solver=greedy)
        session.execute(waiting.values(status=OrderStatus.OPEN))
        session.commit()
    return day


def answer_at_random(sessions: sessionmaker[Session], settings: Settings, day: dt.date) -> None:
    """Accept and decline some pending offers, and take a helper with a pending offer off the
    ledger: the live teams a re-run then meets are of every kind."""
    rng = random.Random(7)
    with sessions() as session:
        teams = sorted(live_teams(session, day).items())
        gone: list[int] = []
        for _, (_, members) in teams:
            pending = [o for o in members if o.status == OfferStatus.PENDING]
            if not pending:
                continue
            roll = rng.random()
            if roll < 0.3:
                accept(session, settings, pending[0].helper_id, pending[0].id)
            elif roll < 0.4:
                decline(session, settings, pending[0].helper_id, pending[0].id, "busy")
            elif roll < 0.45 and not gone:
                gone.append(pending[0].helper_id)
        session.execute(update(HelperRow).where(HelperRow.id.in_(gone)).values(active=False))
        session.commit()


# ----------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("seed", [1, 2])
def test_batched_write_writes_the_rows_the_row_by_row_write_did(
    sessions: sessionmaker[Session], settings: Settings, world: World, seed: int
) -> None:
    """On a street with live teams of every kind (accepted, declined, a helper gone) and a plan
    changed at random order by order (dropped, moved, swapped, new), the batched write leaves
    exactly the rows the row-by-row write leaves — orders (status, version), assignments, offers,
    notifications and their order — and counts the same."""
    day = first_run(sessions, settings, world)
    answer_at_random(sessions, settings, day)
    now = utcnow()
    run_id = nightly.start_run_record(sessions, settings, world.street_id, day, "test", None, now)
    with sessions() as session:
        snapshot = nightly.read_snapshot(session, world.street_id, day)
        plan = nightly._solve(session, settings, world.street_id, day, snapshot, greedy)
        plan = shuffled(plan, random.Random(seed))
        session.commit()
        before = largest_ids(session)
        written: dict[str, tuple[Counter[str], dict[str, list[Any]]]] = {}
        applies: dict[str, Apply] = {"batched": nightly._apply, "row by row": row_by_row}
        for name, apply in applies.items():
            counts = apply(session, settings, run_id, plan, now)
            session.flush()
            written[name] = (counts, rows(session, day, before))
            session.rollback()
    (batched, batched_rows), (reference, reference_rows) = written.values()
    assert batched == reference
    for table, expected in reference_rows.items():
        assert batched_rows[table] == expected, table
    for outcome in ("orders_new", "orders_moved", "orders_withdrawn", "offers_withdrawn"):
        assert batched[outcome] > 0, outcome  # the plan exercised every kind of change
    assert batched["orders_kept"] + batched["orders_filled"] > 0
    # The same street's real re-run, batched, leaves a database the invariant checker (run
    # after every test) finds whole.
    with sessions() as session:
        session.execute(update(RunRow).where(RunRow.id == run_id).values(status="failed"))
        session.commit()
    nightly.run_nightly(sessions, settings, world.street_id, day, solver=greedy)


def test_write_sends_a_handful_of_statements_whatever_the_orders(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A first run's write and a re-run's after answers each send a bounded number of SQL
    statements, fewer than the street's orders (the row-by-row write sent several per order)."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    make_roomy(sessions)
    real = nightly._write
    sent: list[int] = []

    def counted(session: Session, *args: Any, **kwargs: Any) -> RunRow:
        with sql_statements(session.get_bind()) as made:
            run = real(session, *args, **kwargs)
        sent.append(len(made))
        return run

    nightly._write = counted  # type: ignore[assignment]
    try:
        first = nightly.run_nightly(sessions, settings, world.street_id, day, solver=greedy)
        answer_at_random(sessions, settings, day)
        rerun = nightly.run_nightly(sessions, settings, world.street_id, day, solver=greedy)
    finally:
        nightly._write = real  # type: ignore[assignment]
    offers = first.figures["offers_created"]
    assert first.figures["orders_new"] >= 20 and offers >= 20
    assert sent[0] <= 20 < 3 * first.figures["orders_new"]
    assert rerun.figures["offers_created"] + rerun.figures["offers_withdrawn"] > 0
    assert sent[1] <= 20
