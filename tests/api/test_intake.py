"""Intake beyond staff and residents (issue 11): grid workers (网格员) see and order for the people
of their own grid only; family accounts (亲情代理) act for a resident only through a link staff
approved; where the street reviews orders (社区下单) the orders of residents, families and grid
workers wait in ``review``, are never matched or rolled over there, and staff approve (owning
the order), change then approve, or reject them with a reason. The invariant checker runs after
every test (conftest)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.actor import Actor
from api.services.closing import visits
from api.services.closing.deadlines import roll_over
from api.services.closing.follow_ups import follow_up_owner, schedule
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.intake import family, grid, review
from api.services.intake.review import ReviewEdit
from api.services.matching.invariants import check_database
from api.services.matching.nightly import run_nightly
from api.services.messages.results import order_requesters
from api.services.offers import dispatch
from api.services.offers.assign import create_assignment, local_today, refresh_order_status
from api.services.orders import OrderFilters, OrderSpec, get_order, list_orders, place_order
from api.settings import Settings
from api.store.statuses import AssignmentStatus, FollowUpReason, NotificationKind, OrderStatus
from api.store.tables import (
    AssignmentRow,
    AuditEntry,
    Community,
    FeedbackRow,
    FollowUpRow,
    NotificationRow,
    OrderRow,
    ResidentRow,
    Street,
    utcnow,
)
from tests.api.conftest import PASSWORD, StateContext, World, actor_named, database_state
from tests.api.loop_support import make_roomy, tomorrow

Sessions = sessionmaker[Session]


@dataclasses.dataclass(frozen=True)
class Intake:
    """The accounts of the tests: a grid worker of the first community's first grid, a
    resident account of that grid; ``mine``/``other``: a resident of that grid and one of
    another grid of the same community."""

    grid_id: int
    mine: int
    other: int


def _intake(state: StateContext) -> Intake:
    """The street reviews orders; a grid worker ``gw`` of the grid of the first community's
    first resident, and a resident account ``res`` for that resident."""
    world: World = state.values["world"]
    with state.sessions() as session:
        residents = session.scalars(
            select(ResidentRow)
            .where(ResidentRow.community_id == world.communities[0])
            .order_by(ResidentRow.id)
        ).all()
        mine = residents[0]
        assert mine.grid_id is not None
        other = next(r for r in residents if r.grid_id != mine.grid_id)
        add_user(session, "gw", PASSWORD, "grid_worker", street_id=world.street_id,
                 community_id=mine.community_id, grid_id=mine.grid_id)  # fmt: skip
        add_user(session, "res", PASSWORD, "resident", resident_id=mine.id)
        mine.phone = "138 0013 8000"
        session.execute(update(Street).values(review_orders=True))
        session.commit()
        return Intake(mine.grid_id, mine.id, other.id)


intake = database_state("intake", _intake)


def who(sessions: Sessions, username: str) -> Actor:
    with sessions() as session:
        return actor_named(session, username)


def order_for(
    sessions: Sessions, settings: Settings, actor: Actor, resident_id: int | None, **extra: object
) -> int:
    with sessions() as session:
        spec = OrderSpec(item="L01", date=tomorrow(settings), resident_id=resident_id, **extra)  # type: ignore[arg-type]
        return place_order(session, settings, actor, spec).id


def row(sessions: Sessions, order_id: int) -> OrderRow:
    with sessions() as session:
        return session.get_one(OrderRow, order_id)


# ----------------------------------------------------------------------------- grid workers


def test_a_grid_worker_sees_and_orders_for_their_grid_only(
    sessions: Sessions, settings: Settings, intake: Intake
) -> None:
    """A grid worker lists only the residents of their grid, orders for one of them (as the
    requester, waiting for review), and gets "not found" for anyone of another grid."""
    gw = who(sessions, "gw")
    with sessions() as session:
        found = grid.grid_residents(session, gw, page_size=200)
        grids = {session.get_one(ResidentRow, r.id).grid_id for r in found.items}
        assert grids == {intake.grid_id} and found.total >= 1
        with pytest.raises(NotFound):
            grid.grid_resident(session, gw, intake.other)
        with pytest.raises(Forbidden):
            grid.grid_residents(session, who(sessions, "staff"))
    placed = order_for(sessions, settings, gw, intake.mine)
    order = row(sessions, placed)
    assert order.status == OrderStatus.REVIEW and order.placed_by == gw.user_id
    assert order.owner_id is None
    with pytest.raises(NotFound):
        order_for(sessions, settings, gw, intake.other)
    with sessions() as session:
        listed = list_orders(session, gw, OrderFilters(), page_size=200)
        residents = {session.get_one(ResidentRow, o.resident_id).grid_id for o in listed.items}
        assert residents == {intake.grid_id} and placed in {o.id for o in listed.items}
        other_order = session.scalars(
            select(OrderRow.id).where(OrderRow.resident_id == intake.other)
        ).first()
        if other_order is not None:
            with pytest.raises(NotFound):
                get_order(session, gw, other_order)


def test_a_grid_worker_records_follow_ups_of_their_grid_only(
    sessions: Sessions, settings: Settings, intake: Intake
) -> None:
    """A grid worker lists and records the follow-up visits of their grid's residents; one of
    another grid is "not found" to them and stays to do."""
    now = utcnow()
    ids = {}
    with sessions() as session:
        for key in ("mine", "other"):
            order = session.scalars(
                select(OrderRow).where(OrderRow.resident_id == getattr(intake, key))
            ).first()
            if order is None:
                order = OrderRow(street_id=1, resident_id=getattr(intake, key), item="L01",
                                 date=tomorrow(settings), placed_at=now)  # fmt: skip
                order.street_id = session.get_one(ResidentRow, order.resident_id).street_id
                session.add(order)
                session.flush()
            follow_up = FollowUpRow(order_id=order.id, due_date=tomorrow(settings))
            session.add(follow_up)
            session.flush()
            ids[key] = follow_up.id
        session.commit()
    gw = who(sessions, "gw")
    with sessions() as session:
        listed = visits.list_follow_ups(session, gw, "scheduled", settings=settings)
        assert {f.id for f in listed.items} == {ids["mine"]}
    with sessions() as session:
        done = visits.complete_follow_up(session, gw, ids["mine"], "家里都好")
        assert done.status == "done"
    with sessions() as session, pytest.raises(NotFound):
        visits.complete_follow_up(session, gw, ids["other"], "x")
    with sessions() as session:
        assert session.get_one(FollowUpRow, ids["other"]).status == "scheduled"
        assert session.get_one(FollowUpRow, ids["mine"]).done_by == gw.user_id
        with pytest.raises(Forbidden):
            visits.list_follow_ups(session, who(sessions, "res"))


# ----------------------------------------------------------------------------- review


def test_orders_wait_for_review_and_are_never_matched_or_rolled_there(
    sessions: Sessions, settings: Settings, world: World, intake: Intake
) -> None:
    """With the review step on, a resident's order waits in review (staff's goes straight to
    matching); a nightly run leaves it without a team and roll-over does not move it; with the
    step off a resident's order is open at once."""
    make_roomy(sessions)
    day = tomorrow(settings)
    waiting = order_for(sessions, settings, who(sessions, "res"), None)
    staff_order = order_for(sessions, settings, who(sessions, "staff"), intake.mine)
    assert row(sessions, waiting).status == OrderStatus.REVIEW
    assert row(sessions, staff_order).status == OrderStatus.OPEN
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        teams = session.scalars(select(AssignmentRow.order_id)).all()
        assert waiting not in teams and staff_order in teams
        session.execute(
            update(OrderRow).where(OrderRow.id == waiting).values(date=day - dt.timedelta(days=1))
        )
        session.commit()
        assert roll_over(session, settings, world.street_id, day, utcnow()) == 0
        session.commit()
        assert session.get_one(OrderRow, waiting).date == day - dt.timedelta(days=1)
        session.execute(update(Street).values(review_orders=False))
        session.commit()
    direct = order_for(sessions, settings, who(sessions, "res"), None)
    assert row(sessions, direct).status == OrderStatus.OPEN


def test_staff_approve_change_or_reject_an_order_under_review(
    sessions: Sessions, settings: Settings, world: World, intake: Intake
) -> None:
    """Approving makes the order open and the approver its owner; changes are checked and
    written (day, item, window, note); a rejection needs a reason, which the requester reads;
    a decided order cannot be decided again; each decision is audited."""
    res, staff = who(sessions, "res"), who(sessions, "staff")
    first = order_for(sessions, settings, res, None)
    second = order_for(sessions, settings, res, None)
    third = order_for(sessions, settings, res, None)
    with sessions() as session:
        queue = review.orders_in_review(session, staff).items
        assert {w.order.id for w in queue} >= {first, second}
        assert {w.entered_role for w in queue} == {"resident"}
        with pytest.raises(Forbidden):
            review.orders_in_review(session, res)
    with sessions() as session:
        approved = review.approve_order(session, settings, staff, first)
    assert approved.status == OrderStatus.OPEN
    order = row(sessions, first)
    assert order.owner_id == staff.user_id and order.reviewed_by == staff.user_id
    later = tomorrow(settings) + dt.timedelta(days=2)
    with sessions() as session, pytest.raises(BadInput):
        review.approve_order(session, settings, staff, second, ReviewEdit(window_start=600))
    with sessions() as session:
        edit = ReviewEdit(date=later, item="L02", window_start=540, window_end=720, note="改期")
        review.approve_order(session, settings, staff, second, edit)
    order = row(sessions, second)
    assert (order.date, order.item, order.window_start, order.window_end) == (
        later,
        "L02",
        540,
        720,
    )
    assert order.note == "改期" and order.status == OrderStatus.OPEN and order.flexible
    with sessions() as session, pytest.raises(BadInput):
        review.reject_order(session, staff, third, "  ")
    with sessions() as session:
        review.reject_order(session, staff, third, "本周助浴已排满，请下周再约")
    with sessions() as session:
        mine = get_order(session, res, third)
        assert mine.order.status == OrderStatus.REJECTED
        assert mine.order.reject_reason == "本周助浴已排满，请下周再约"
        assert mine.reviewed_by and mine.entered_role == "resident"
    for decided in (first, third):
        with sessions() as session, pytest.raises(Conflict):
            review.reject_order(session, staff, decided, "again")
    with sessions() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id.in_([str(first), str(third)]))
        ).all()
        assert {"order.approve", "order.reject", "order.place"} <= set(actions)


def test_review_is_scoped_and_a_waiting_order_may_be_cancelled(
    sessions: Sessions, settings: Settings, world: World, intake: Intake
) -> None:
    """Staff of another community cannot see or decide an order under review ("not found");
    an order whose day passed while it waited needs a new day; its requester may cancel it
    while it waits."""
    with sessions() as session:
        other = Community(street_id=world.street_id, code="OTHER", name="另一个社区")
        session.add(other)
        session.flush()
        add_user(session, "staff_c2", PASSWORD, "staff", street_id=world.street_id,
                 community_id=other.id)  # fmt: skip
        session.commit()
    res = who(sessions, "res")
    waiting = order_for(sessions, settings, res, None)
    with sessions() as session, pytest.raises(NotFound):
        review.approve_order(session, settings, who(sessions, "staff_c2"), waiting)
    with sessions() as session:
        session.execute(
            update(OrderRow)
            .where(OrderRow.id == waiting)
            .values(date=tomorrow(settings) - dt.timedelta(days=3))
        )
        session.commit()
    with sessions() as session, pytest.raises(BadInput):
        review.approve_order(session, settings, who(sessions, "staff_c1"), waiting)
    with sessions() as session:
        session.execute(
            update(OrderRow).where(OrderRow.id == waiting).values(date=tomorrow(settings))
        )
        session.commit()
        dispatch.cancel_order(session, settings, res, waiting, "不用了")
    assert row(sessions, waiting).status == OrderStatus.CANCELLED


def test_the_checker_finds_a_team_on_an_order_under_review(
    sessions: Sessions, settings: Settings, world: World, intake: Intake
) -> None:
    """An order in review with a live team, or rejected without a reason, is reported."""
    waiting = order_for(sessions, settings, who(sessions, "res"), None)
    with sessions() as session:
        session.add(AssignmentRow(order_id=waiting, source="manual"))
        rejected = order_for(sessions, settings, who(sessions, "res"), None)
        session.execute(update(OrderRow).where(OrderRow.id == rejected).values(status="rejected"))
        session.flush()
        codes = {v.code for v in check_database(session)}
        assert {"unreviewed_with_team", "rejected_without_reason"} <= codes
        session.rollback()


# ----------------------------------------------------------------------------- family


def test_a_family_account_made_by_staff_orders_for_its_resident(
    sessions: Sessions, settings: Settings, intake: Intake
) -> None:
    """Staff make a family account from the resident's page: linked and approved at once, its
    password usable; acting for the resident it orders (as requester), sees and cancels the
    resident's orders and never another resident's."""
    staff = who(sessions, "staff_c1")
    with sessions() as session:
        made = family.create_family_account(session, staff, intake.mine, "李女儿", "139 0000 1111",
                                            "女儿")  # fmt: skip
    assert made.username == "13900001111" and made.link.status == "approved"
    assert len(made.password) >= 12
    member = who(sessions, made.username)
    with sessions() as session:
        acting = family.acting_for(session, member, None)
        assert acting.resident_id == intake.mine
        assert family.acting_for(session, member, intake.other).resident_id == intake.mine
        assert family.acting_for(session, who(sessions, "staff"), 1) == who(sessions, "staff")
    placed = order_for(sessions, settings, acting, None)
    order = row(sessions, placed)
    assert order.resident_id == intake.mine and order.placed_by == member.user_id
    with sessions() as session:
        assert placed in {o.id for o in list_orders(session, acting, OrderFilters()).items}
        assert list_orders(session, member, OrderFilters()).total == 0  # not acting: nothing
        elsewhere = OrderSpec(item="L01", date=tomorrow(settings), resident_id=intake.other)
        with pytest.raises(NotFound):
            place_order(session, settings, acting, elsewhere)
    with sessions() as session:
        dispatch.cancel_order(session, settings, acting, placed, "x")
    with sessions() as session, pytest.raises(Conflict):
        family.create_family_account(session, staff, intake.mine, "又一个", "13900001111", "儿子")


def test_a_family_link_counts_only_once_staff_approve_it(
    sessions: Sessions, settings: Settings, intake: Intake
) -> None:
    """A family account asks for a link by code and the phone's last 4 digits (a wrong code or
    wrong digits: "not found", nothing asked); a pending link does not let it act; staff
    approve (or reject) it once, in their scope."""
    staff = who(sessions, "staff_c1")
    with sessions() as session:
        other = session.get_one(ResidentRow, intake.other)
        other.phone = "13512345678"
        code, mine_code = other.code, session.get_one(ResidentRow, intake.mine).code
        session.commit()
    with sessions() as session:
        made = family.create_family_account(session, staff, intake.mine, "王儿子", "13711112222",
                                            "儿子")  # fmt: skip
    member = who(sessions, made.username)
    with sessions() as session, pytest.raises(NotFound):
        family.request_link(session, member, code, "0000", "儿子")
    with sessions() as session, pytest.raises(NotFound):
        family.request_link(session, member, "NOPE", "5678", "儿子")
    with sessions() as session:
        asked = family.request_link(session, member, code, "5678", "儿子")
    assert asked.status == "pending"
    with sessions() as session, pytest.raises(Conflict):
        family.request_link(session, member, mine_code, "8000", "儿子")
    with sessions() as session:
        assert family.acting_for(session, member, intake.other).resident_id == intake.mine
        pending = family.links_to_decide(session, staff)
        assert [link.id for link in pending] == [asked.id]
        with pytest.raises(Forbidden):
            family.links_to_decide(session, member)
    with sessions() as session:
        decided = family.decide_link(session, staff, asked.id, approve=True)
    assert decided.status == "approved"
    with sessions() as session:
        assert family.acting_for(session, member, intake.other).resident_id == intake.other
        with pytest.raises(Conflict):
            family.decide_link(session, staff, asked.id, approve=False)


def test_family_and_grid_worker_orders_enter_matching_once_approved(
    sessions: Sessions, settings: Settings, world: World, intake: Intake
) -> None:
    """A grid worker's and a family member's orders wait for review, then, approved, are
    matched by the nightly run like any other; the rated visit's feedback is the resident's."""
    make_roomy(sessions)
    staff = who(sessions, "staff")
    with sessions() as session:
        made = family.create_family_account(session, staff, intake.mine, "女儿", "13633334444",
                                            "女儿")  # fmt: skip
        acting = family.acting_for(session, who(sessions, made.username), None)
    by_family = order_for(sessions, settings, acting, None)
    by_grid = order_for(sessions, settings, who(sessions, "gw"), intake.mine)
    for order_id in (by_family, by_grid):
        with sessions() as session:
            review.approve_order(session, settings, staff, order_id)
    run_nightly(sessions, settings, world.street_id, tomorrow(settings))
    with sessions() as session:
        teams = set(session.scalars(select(AssignmentRow.order_id)))
        assert {by_family, by_grid} <= teams
        assert session.scalar(select(FeedbackRow.id)) is None


def test_a_family_member_rates_a_done_visit_as_the_resident_would(
    sessions: Sessions, settings: Settings, world: World, intake: Intake
) -> None:
    """Acting for the resident, a family account rates a done visit once (1-5; a low score
    schedules a follow-up as for the resident); the same order is "not found" to a family
    account linked to nobody."""
    make_roomy(sessions)
    staff = who(sessions, "staff")
    placed = order_for(sessions, settings, staff, intake.mine)
    with sessions() as session:
        order = session.get_one(OrderRow, placed)
        order.date = local_today(settings)
        helper_id = world.helper_ids[0]
        assignment = create_assignment(session, settings, order, [helper_id], source="manual",
                                       start_minute=None, accepted=[helper_id])  # fmt: skip
        assignment.status, assignment.done_at = AssignmentStatus.DONE, utcnow()
        session.flush()
        refresh_order_status(session, order)
        made = family.create_family_account(session, staff, intake.mine, "女儿", "13655556666",
                                            "女儿")  # fmt: skip
        add_user(session, "nobody", PASSWORD, "family", street_id=world.street_id)
        session.commit()
    with sessions() as session:
        acting = family.acting_for(session, who(sessions, made.username), None)
        rated = visits.give_feedback(session, settings, acting, placed, 2, "来晚了")
    assert rated.follow_up_id is not None
    with sessions() as session:
        assert session.get_one(FeedbackRow, rated.id).given_by == acting.user_id
        stranger = family.acting_for(session, who(sessions, "nobody"), intake.mine)
        assert stranger.resident_id is None
        with pytest.raises(NotFound):
            visits.give_feedback(session, settings, stranger, placed, 5)


def test_a_rejection_tells_everyone_who_asked_and_grid_workers_own_follow_ups(
    sessions: Sessions, settings: Settings, intake: Intake
) -> None:
    """The requesters told of a result are the resident's account, the family accounts with an
    approved link and the grid worker who entered the order (``order_requesters``): a rejected
    order tells each of them once, with the reason; a follow-up of a resident of a grid with a
    grid worker is owned by that grid worker (``follow_up_owner``), which the checker accepts."""
    staff, gw = who(sessions, "staff_c1"), who(sessions, "gw")
    with sessions() as session:
        made = family.create_family_account(session, staff, intake.mine, "王儿子", "139 0000 2222",
                                            "儿子")  # fmt: skip
    placed = order_for(sessions, settings, gw, intake.mine)
    with sessions() as session:
        order = session.get_one(OrderRow, placed)
        expected = {who(sessions, "res").user_id, who(sessions, made.username).user_id, gw.user_id}
        assert set(order_requesters(session, order)) == expected
        review.reject_order(session, staff, placed, "本周已约满")
    with sessions() as session:
        told = session.execute(
            select(NotificationRow.user_id, NotificationRow.text_zh, NotificationRow.text_en).where(
                NotificationRow.kind == NotificationKind.NOT_DONE
            )
        ).all()
    assert sorted(user for user, _, _ in told) == sorted(expected)
    assert all("本周已约满" in zh and "not taken on" in en for _, zh, en in told)
    with sessions() as session:
        order = session.get_one(OrderRow, placed)
        assert follow_up_owner(session, order) == gw.user_id
        elsewhere = session.scalars(
            select(OrderRow).join(ResidentRow).where(ResidentRow.id == intake.other)
        ).first()
        if elsewhere is not None:  # a resident of a grid without a grid worker: the order's owner
            assert follow_up_owner(session, elsewhere) == elsewhere.owner_id
        follow_up, _ = schedule(session, order, FollowUpReason.LOW_SCORE, tomorrow(settings))
        assert follow_up.owner_id == gw.user_id
        session.commit()
        assert "follow_up_owner_scope" not in {v.code for v in check_database(session)}
