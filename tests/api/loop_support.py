"""Shared set-up for the nightly-run and offer tests: dates, a roomy street, logins for any
helper, and a check that the offers in the database form a plan ``matcher.verify`` accepts."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.actor import Actor
from api.services.matching.nightly import run_nightly
from api.services.matching.problem import build_problem, helper_key, order_key
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.tables import (
    AssignmentRow,
    Community,
    HelperRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    SkillRow,
    UserRow,
)
from matcher.params import ObjectiveWeights
from matcher.result import Assignment, Reason, Result, Status, Unmatched
from matcher.verify import verify
from matcher.weights import order_weight
from tests.api.conftest import PASSWORD, StateContext, World, actor_named, login

PLANNED = ("open", "offered", "assigned")


def tomorrow(settings: Settings) -> dt.date:
    return local_today(settings) + dt.timedelta(days=1)


def move_orders(sessions: sessionmaker[Session], day: dt.date) -> None:
    """Date every seeded order ``day`` (tests must not depend on the calendar)."""
    with sessions() as session:
        session.execute(update(OrderRow).values(date=day))
        session.commit()


def make_roomy(sessions: sessionmaker[Session]) -> None:
    """Every helper holds every skill, reaches the whole street and is free all day: every
    order can be staffed and a declined place can be filled."""
    with sessions() as session:
        skills = sorted(session.scalars(select(SkillRow.code)))
        session.execute(
            update(HelperRow).values(
                skills=skills,
                radius_km=50.0,
                max_orders=6,
                max_minutes=900,
                availability=[[0, 1440]],
                blocked_residents=[],
            )
        )
        session.commit()


def matched_tomorrow(state: StateContext) -> dt.date:
    """Tomorrow, with every order of the roomy street matched by a nightly run (the body of the
    ``day`` database states of several test modules: a state is registered per module)."""
    day = tomorrow(state.settings)
    move_orders(state.sessions, day)
    make_roomy(state.sessions)
    run_nightly(state.sessions, state.settings, state.values["world"].street_id, day)
    return day


def staff_actor(sessions: sessionmaker[Session], world: World, username: str = "staff") -> Actor:
    with sessions() as session:
        return actor_named(session, username)


def helper_headers(
    client: TestClient, sessions: sessionmaker[Session], helper_id: int
) -> dict[str, str]:
    """Bearer headers for the helper's account (created if the helper has none)."""
    with sessions() as session:
        user = session.scalars(select(UserRow).where(UserRow.helper_id == helper_id)).first()
        if user is None:
            user = add_user(session, f"h{helper_id}", PASSWORD, "helper", helper_id=helper_id)
            session.commit()
        username = user.username
    return login(client, username)


def live_teams(session: Session, day: dt.date) -> dict[int, tuple[AssignmentRow, list[OfferRow]]]:
    """Per order of ``day``: its live assignment and live offers."""
    teams: dict[int, tuple[AssignmentRow, list[OfferRow]]] = {}
    for assignment in session.scalars(
        select(AssignmentRow)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .where(OrderRow.date == day, AssignmentRow.status.in_(("active", "done", "confirmed")))
    ):
        members = [o for o in assignment.offers if o.status in ("pending", "accepted")]
        teams[assignment.order_id] = (assignment, members)
    return teams


def assert_db_plan_valid(session: Session, street_id: int, day: dt.date) -> int:
    """The live teams of ``day`` pass ``matcher.verify`` on the street as the database holds it
    (every planned order, helpers who accepted pinned); returns the number of teams."""
    orders = list(
        session.scalars(
            select(OrderRow)
            .where(OrderRow.street_id == street_id, OrderRow.date == day)
            .where(OrderRow.status.in_(PLANNED))
            .order_by(OrderRow.id)
        )
    )
    teams = live_teams(session, day)
    pins: dict[int, list[int]] = defaultdict(list)
    for order_id, (_, members) in teams.items():
        pins[order_id] = [o.helper_id for o in members if o.status == "accepted"]
    problem = build_problem(session, street_id, day, orders, pins=pins).problem
    assignments = tuple(
        Assignment(
            order=order_key(order_id),
            helpers=tuple(sorted(helper_key(o.helper_id) for o in members)),
            start=assignment.start_minute,
        )
        for order_id, (assignment, members) in sorted(teams.items())
    )
    covered = {a.order for a in assignments}
    result = Result(
        solver="database",
        status=Status.FEASIBLE,
        stages=(),
        gap=0.0,
        runtime_s=0.0,
        assignments=assignments,
        unmatched=tuple(
            Unmatched(order=o.id, reason=Reason.NOT_FREE)
            for o in problem.orders
            if o.id not in covered
        ),
        weights=ObjectiveWeights(),
        weighted_coverage=sum(
            order_weight(problem, o, 0.1) for o in problem.orders if o.id in covered
        ),
        weighted_demand=sum(order_weight(problem, o, 0.1) for o in problem.orders),
    )
    violations = verify(problem, result)
    assert not violations, "\n".join(v.message for v in violations)
    return len(assignments)


def split_street(sessions: sessionmaker[Session], world: World) -> int:
    """Move every other resident into a second community; returns its id."""
    with sessions() as session:
        second = Community(street_id=world.street_id, code="C99", name="第二社区")
        session.add(second)
        session.flush()
        residents = session.scalars(select(ResidentRow.id).order_by(ResidentRow.id)).all()
        session.execute(
            update(ResidentRow)
            .where(ResidentRow.id.in_(residents[1::2]))
            .values(community_id=second.id)
        )
        session.commit()
        return second.id
