"""The care circles' running totals (``api.services.circles.totals``, migration 0018), on SQLite
and PostgreSQL: on random histories, refreshed order by order as the writers do and changed
again afterwards (a visit reversed, an offer declined, a score given), the totals equal the
history's aggregate, and every pair's facts and the circle target count read from the totals are
those read from the history itself (the reads before the totals existed)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.circles import facts, targets
from api.services.circles.totals import history, rebuild, refresh_orders, total_problems
from api.store.db import among_bound
from api.store.tables import (
    AssignmentRow,
    CirclePair,
    CircleTotal,
    FeedbackRow,
    HelperRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    utcnow,
)
from matcher.circles import StaffChoice
from tests.api.conftest import DATE, World, actor_named

ASSIGNMENT_STATUSES = ("active", "done", "confirmed", "withdrawn")
OFFER_STATUSES = ("pending", "accepted", "accepted", "declined", "withdrawn")
CATEGORIES = ["living_alone", "poor_household", "lost_only_child", "disability",
              "left_behind_child", "empty_nest_elderly", "veteran"]  # fmt: skip


def random_history(session: Session, world: World, rng: random.Random) -> list[int]:
    """Orders of the street's residents over 60 days before ``DATE`` with one or two teams of
    random statuses, random members' answers and a score for some; staff's choices for some
    pairs. Written directly (a random history, not the loop's): the orders' ids."""
    residents = list(
        session.scalars(select(ResidentRow.id).where(ResidentRow.street_id == world.street_id))
    )
    helpers = list(
        session.scalars(select(HelperRow.id).where(HelperRow.street_id == world.street_id))
    )
    residents = rng.sample(residents, min(6, len(residents)))
    helpers = rng.sample(helpers, min(5, len(helpers)))
    orders = []
    for _ in range(rng.randint(10, 40)):
        day = DATE - dt.timedelta(days=rng.randint(1, 60))
        order = OrderRow(street_id=world.street_id, resident_id=rng.choice(residents),
                         item="L01", date=day, first_date=day, status="open")  # fmt: skip
        session.add(order)
        session.flush()
        teams = rng.choice((1, 1, 2))
        for team in range(teams):  # at most one live team: an earlier one was withdrawn
            status = "withdrawn" if team < teams - 1 else rng.choice(ASSIGNMENT_STATUSES)
            assignment = AssignmentRow(
                order_id=order.id, source="manual", status=status, override_reason="random history"
            )
            session.add(assignment)
            session.flush()
            for h in rng.sample(helpers, rng.randint(1, 3)):
                session.add(OfferRow(assignment_id=assignment.id, helper_id=h,
                                     status=rng.choice(OFFER_STATUSES),
                                     respond_by=utcnow()))  # fmt: skip
        if rng.random() < 0.5:
            session.add(FeedbackRow(order_id=order.id, score=rng.randint(1, 5)))
        orders.append(order.id)
    for _ in range(rng.randint(0, 4)):
        r, h = rng.choice(residents), rng.choice(helpers)
        if (
            session.scalar(
                select(CirclePair.id).where(CirclePair.resident_id == r, CirclePair.helper_id == h)
            )
            is None
        ):
            session.add(CirclePair(resident_id=r, helper_id=h, kept_lows=rng.randint(0, 2),
                                   staff=rng.choice((None, *StaffChoice))))  # fmt: skip
    session.flush()
    return orders


def change_some(session: Session, orders: list[int], rng: random.Random) -> None:
    """Changes of the history after the first refresh, each refreshed as a writer would: a
    team's status, a member's answer, a score given."""
    for order_id in rng.sample(orders, min(len(orders), 8)):
        roll = rng.random()
        if roll < 0.4:
            last = select(func.max(AssignmentRow.id)).where(AssignmentRow.order_id == order_id)
            session.execute(update(AssignmentRow).where(AssignmentRow.id == last.scalar_subquery())
                            .values(status=rng.choice(ASSIGNMENT_STATUSES)))  # fmt: skip
        elif roll < 0.7:
            session.execute(
                update(OfferRow)
                .where(OfferRow.assignment_id.in_(
                    select(AssignmentRow.id).where(AssignmentRow.order_id == order_id)))
                .values(status=rng.choice(OFFER_STATUSES))
            )  # fmt: skip
        elif session.scalar(select(FeedbackRow.id).where(FeedbackRow.order_id == order_id)) is None:
            session.add(FeedbackRow(order_id=order_id, score=rng.randint(1, 5)))
        refresh_orders(session, [order_id])


def from_history(dialect: str) -> object:
    """The pairs' facts as read before the totals: the history's aggregate itself."""
    return history(among_bound(OrderRow.resident_id, "residents", dialect))


@pytest.mark.broken_db("a random history written directly: its teams break the matching rules")
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_totals_equal_the_history_and_count_as_it_did(
    sessions: sessionmaker[Session], world: World, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    with sessions() as session:
        staff = actor_named(session, "staff")
        targets.set_target(session, staff, rng.randint(1, 3), CATEGORIES)
        orders = random_history(session, world, rng)
        assert total_problems(session, world.street_id), "nothing refreshed yet: caught"
        left = orders[:]
        rng.shuffle(left)
        while left:  # refreshed in batches, as each writer refreshes its orders
            cut = rng.randint(1, 5)
            refresh_orders(session, left[:cut])
            left = left[cut:]
        change_some(session, orders, rng)
        session.commit()
        assert total_problems(session, world.street_id) == []
        assert total_problems(session, None) == []
        assert session.scalar(select(CircleTotal.resident_id).limit(1)) is not None
        residents = list(session.execute(
            select(ResidentRow.id, ResidentRow.circle)
            .where(ResidentRow.street_id == world.street_id)))  # fmt: skip
        kept = facts.pair_records(session, residents)
        count = targets.target_count(session, staff, DATE)
        plan = targets.circle_plan(session, staff, DATE)
        with monkeypatch.context() as patched:
            patched.setattr(facts, "_totals", from_history)
            assert facts.pair_records(session, residents) == kept
            assert targets.target_count(session, staff, DATE) == count
            assert targets.circle_plan(session, staff, DATE) == plan
        assert count.total > 0
        # a rebuild from scratch (the migration's) writes the same rows
        before = sorted(session.execute(select(CircleTotal.__table__)).tuples())
        rebuild(session)
        assert sorted(session.execute(select(CircleTotal.__table__)).tuples()) == before
        rebuild(session, world.street_id)
        assert sorted(session.execute(select(CircleTotal.__table__)).tuples()) == before
        session.rollback()


def test_a_missed_writer_is_caught(sessions: sessionmaker[Session], world: World) -> None:
    """A score given without refreshing the totals is a broken invariant naming the pair."""
    rng = random.Random(9)
    with sessions() as session:
        orders = random_history(session, world, rng)
        refresh_orders(session, orders)
        assert total_problems(session, None) == []
        served = session.execute(
            select(OrderRow.id, OrderRow.resident_id, OfferRow.helper_id)
            .join(AssignmentRow, AssignmentRow.order_id == OrderRow.id)
            .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
            .outerjoin(FeedbackRow, FeedbackRow.order_id == OrderRow.id)
            .where(AssignmentRow.status.in_(("done", "confirmed")), OfferRow.status == "accepted",
                   FeedbackRow.id.is_(None), OrderRow.id.in_(orders))
        ).first()  # fmt: skip
        assert served is not None
        session.add(FeedbackRow(order_id=served.id, score=1))
        session.flush()
        found = total_problems(session, world.street_id)
        assert found and all(code == "circle_totals" for code, _ in found)
        assert f"resident {served.resident_id}, helper {served.helper_id}:" in " ".join(
            message for _, message in found
        )
        session.rollback()
