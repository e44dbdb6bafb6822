"""The reserve of an order (``order_reserves``, ``matcher.reserve``): the nightly run keeps, per
order, the helpers it ranks next after the team; a decline's re-match asks them first and falls
back to the whole street when none of them can come."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from api.services.matching.nightly import RESERVE_SIZE
from api.services.offers import answers
from api.settings import Settings
from api.store.tables import AssignmentRow, HelperRow, OfferRow, OrderReserve, OrderRow, RunRow
from tests.api.conftest import StateContext, World, database_state
from tests.api.loop_support import assert_db_plan_valid, live_teams, matched_tomorrow


def _matched_tomorrow(state: StateContext) -> dt.date:
    """Tomorrow, with every order of the roomy street matched by a nightly run."""
    return matched_tomorrow(state)


day = database_state("day", _matched_tomorrow)


def _reserves(session: Session) -> dict[int, list[int]]:
    return dict(session.execute(select(OrderReserve.order_id, OrderReserve.helper_ids)).all())


def _single(
    sessions: sessionmaker[Session], day: dt.date, after: int = 0
) -> tuple[int, OfferRow, list[int]]:
    """An order (after order ``after``) served by one helper, with a reserve of at least three,
    whose resident has no other order that day: its id, the member's offer and the reserve."""
    with sessions() as session:
        reserves = _reserves(session)
        residents = Counter(
            session.scalars(select(OrderRow.resident_id).where(OrderRow.date == day))
        )
        for order_id, (_, members) in sorted(live_teams(session, day).items()):
            resident = session.get_one(OrderRow, order_id).resident_id
            if (
                order_id > after
                and len(members) == 1
                and len(reserves.get(order_id, ())) >= 3
                and residents[resident] == 1
            ):
                return order_id, members[0], reserves[order_id]
    raise AssertionError("no single-helper order with a reserve")


def _block(session: Session, helper_ids: list[int], order_id: int) -> None:
    """The helpers' ledger now blocks the order's resident (they can no longer be sent there;
    their other visits stand)."""
    order = session.get_one(OrderRow, order_id)
    for helper in session.scalars(select(HelperRow).where(HelperRow.id.in_(helper_ids))):
        helper.blocked_residents = [*helper.blocked_residents, order.resident.code]
    session.commit()


def _asked(sessions: sessionmaker[Session]) -> list[str]:
    """Whose problem each re-match run found its plan in ("reserve" or "street"), in order."""
    with sessions() as session:
        runs = session.scalars(select(RunRow).where(RunRow.kind == "rematch").order_by(RunRow.id))
        return [run.figures["asked"] for run in runs]


def _newcomer(sessions: sessionmaker[Session], day: dt.date, order_id: int) -> int:
    with sessions() as session:
        _, members = live_teams(session, day)[order_id]
        (offer,) = members
        assert offer.status == "pending"
        return offer.helper_id


def test_nightly_keeps_a_ranked_reserve_off_each_team(
    sessions: sessionmaker[Session], world: World, day: dt.date
) -> None:
    """After the nightly run, its orders have reserves of distinct active helpers of the street,
    at most ``RESERVE_SIZE``, none on the order's team; a re-run replaces them, never adds."""
    with sessions() as session:
        reserves = _reserves(session)
        teams = live_teams(session, day)
        active = set(
            session.scalars(
                select(HelperRow.id).where(HelperRow.street_id == world.street_id, HelperRow.active)
            )
        )
        assert len(reserves) >= len(teams) // 2 > 0
        for order_id, helpers in reserves.items():
            assert len(helpers) == len(set(helpers)) <= RESERVE_SIZE
            assert set(helpers) <= active
            if order_id in teams:
                assert not set(helpers) & {o.helper_id for o in teams[order_id][1]}


def test_a_decline_offers_the_place_to_the_reserve_first(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """The declined place goes to a helper of the order's reserve; the plan stays valid."""
    order_id, offer, reserve = _single(sessions, day)
    with sessions() as session:
        view = answers.decline(session, settings, offer.helper_id, offer.id)
    assert view.replacement_offers == 1
    assert _newcomer(sessions, day, order_id) in reserve
    assert _asked(sessions) == ["reserve"]
    with sessions() as session:
        assert_db_plan_valid(session, world.street_id, day)


def test_a_reserve_helper_who_can_no_longer_come_is_not_asked(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """The reserve is a hint: with every reserve helper but the last now blocked from the
    resident in the ledger, the place goes to the last one, as the matcher judges them now."""
    order_id, offer, reserve = _single(sessions, day)
    with sessions() as session:
        _block(session, reserve[:-1], order_id)
        view = answers.decline(session, settings, offer.helper_id, offer.id)
    assert view.replacement_offers == 1
    assert _newcomer(sessions, day, order_id) == reserve[-1]
    assert _asked(sessions) == ["reserve"]
    with sessions() as session:
        assert_db_plan_valid(session, world.street_id, day)


def test_with_no_one_left_in_the_reserve_the_whole_street_is_asked(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """A reserve whose helpers can all no longer come (and an order with none kept) still
    re-match: the place goes to a helper outside the reserve, as the street's problem finds."""
    order_id, offer, reserve = _single(sessions, day)
    other_id, other, _ = _single(sessions, day, after=order_id)
    with sessions() as session:
        _block(session, reserve, order_id)
        session.execute(delete(OrderReserve).where(OrderReserve.order_id == other_id))
        session.commit()
        assert answers.decline(session, settings, offer.helper_id, offer.id).replacement_offers
        assert answers.decline(session, settings, other.helper_id, other.id).replacement_offers
    assert _newcomer(sessions, day, order_id) not in reserve
    assert _asked(sessions) == ["street", "street"]
    assert _newcomer(sessions, day, other_id) != other.helper_id
    with sessions() as session:
        assert_db_plan_valid(session, world.street_id, day)
        assert session.get_one(OrderRow, order_id).status == "offered"
        assert (
            session.scalar(
                select(AssignmentRow.status).where(AssignmentRow.id == offer.assignment_id)
            )
            == "active"
        )
