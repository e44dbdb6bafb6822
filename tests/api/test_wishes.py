"""Micro-wishes (微心愿): posted by a resident or staff, claimed by a helper, a standing team
or a partner unit (exactly one of simultaneous claims wins), confirmed by staff with the points
paid once; partner units and teams are kept per street."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.actor import Actor
from api.services.closing import points
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.matching.invariants import check_database
from api.services.wishes import board, partners
from api.store.statuses import PointsKind
from api.store.tables import PointsEntry, ResidentRow, WishPaymentRow
from tests.api.conftest import PASSWORD, World, actor_named
from tests.api.test_shop import race

Sessions = sessionmaker[Session]


def a_resident(sessions: Sessions, world: World) -> int:
    """The street's first resident, with an account ``resident1``."""
    with sessions() as session:
        resident_id = session.scalars(
            select(ResidentRow.id)
            .where(ResidentRow.street_id == world.street_id)
            .order_by(ResidentRow.id)
        ).first()
        assert resident_id is not None
        add_user(session, "resident1", PASSWORD, "resident", resident_id=resident_id)
        session.commit()
        return resident_id


def staff_wish(sessions: Sessions, world: World, worth: int = 20) -> int:
    resident_id = a_resident(sessions, world)
    with sessions() as session:
        staff = actor_named(session, "staff")
        wish = board.post_wish(session, staff, "春节前理个发", "service", "", worth, resident_id)
    return wish.id


def balance_of(sessions: Sessions, helper_id: int) -> int:
    with sessions() as session:
        return points.balance(session, helper_id)


def test_a_claimed_wish_confirmed_pays_its_points_once(sessions: Sessions, world: World) -> None:
    """Staff post a 20-point wish, a helper claims it, staff confirm: the helper gains 20
    points in one wish entry; confirming again is a Conflict and pays nothing more."""
    wish_id = staff_wish(sessions, world)
    with sessions() as session:
        claimed = board.claim_wish(session, actor_named(session, "helper1"), wish_id)
        assert (claimed.status, claimed.claim_helper_id) == ("claimed", world.helper_ids[0])
        assert claimed.resident_name  # the claimer now sees whom the wish is for
        staff = actor_named(session, "staff")
        done = board.confirm_wish(session, staff, wish_id)
        assert done.paid == [(world.helper_ids[0], 20)]
        with pytest.raises(Conflict):
            board.confirm_wish(session, staff, wish_id)
    assert balance_of(sessions, world.helper_ids[0]) == 20


def test_a_residents_wish_starts_at_no_points_until_staff_set_them(
    sessions: Sessions, world: World
) -> None:
    """A resident posts their own wish (worth 0); staff set 15 points; helpers see the open
    wish without the resident's name; the resident sees only their own wishes."""
    a_resident(sessions, world)
    with sessions() as session:
        resident = actor_named(session, "resident1")
        wish = board.post_wish(session, resident, "一副老花镜", "thing")
        assert wish.points == 0
        assert board.set_points(session, actor_named(session, "staff"), wish.id, 15).points == 15
        seen = board.board(session, actor_named(session, "helper1")).items
        assert [(w.id, w.resident_name) for w in seen] == [(wish.id, None)]
        assert [w.id for w in board.board(session, resident).items] == [wish.id]
        with pytest.raises(Forbidden):
            board.set_points(session, resident, wish.id, 99)


def claim(helper: Actor, wish_id: int) -> Callable[[Session], object]:
    return lambda session: board.claim_wish(session, helper, wish_id)


def test_two_helpers_claiming_one_wish_at_once_one_wins(sessions: Sessions, world: World) -> None:
    """Simultaneous claims of one wish by six helpers, repeated: one wins, five get Conflict."""
    resident_id = a_resident(sessions, world)
    for round_ in range(3):
        with sessions() as session:
            staff = actor_named(session, "staff")
            wish = board.post_wish(session, staff, f"心愿{round_}", "thing", "", 5, resident_id)
            helpers = [actor_named(session, f"helper{n}") for n in range(1, 7)]
        results = race(sessions, [claim(helper, wish.id) for helper in helpers])
        won = [r for r in results if isinstance(r, board.WishView)]
        lost = [r for r in results if isinstance(r, Conflict)]
        assert (len(won), len(lost)) == (1, 5), results


def test_team_and_partner_claims(sessions: Sessions, world: World) -> None:
    """A standing team's claim, confirmed, pays each active member the wish's points; a partner
    unit's claim (recorded by staff) confirmed pays no points; a helper outside the team cannot
    claim for it."""
    resident_id = a_resident(sessions, world)
    members = world.helper_ids[:3]
    with sessions() as session:
        staff = actor_named(session, "staff")
        team = partners.add_team(session, staff, "红马甲服务队", members)
        unit = partners.add_partner(session, staff, "幸福超市", "company")
        by_team = board.post_wish(session, staff, "打扫卫生", "service", "", 8, resident_id)
        by_unit = board.post_wish(session, staff, "一袋米", "thing", "", 8, resident_id)
        with pytest.raises(BadInput):
            board.claim_wish(session, actor_named(session, "helper4"), by_team.id, team_id=team.id)
        board.claim_wish(session, actor_named(session, "helper2"), by_team.id, team_id=team.id)
        assert board.confirm_wish(session, staff, by_team.id).paid == [(h, 8) for h in members]
        claimed = board.claim_wish(session, staff, by_unit.id, partner_id=unit.id)
        assert claimed.claimed_by == "幸福超市"
        assert board.confirm_wish(session, staff, by_unit.id).paid == []
        payments = session.scalars(select(WishPaymentRow.helper_id)).all()
    assert sorted(payments) == members


def test_release_and_cancel(sessions: Sessions, world: World) -> None:
    """Only the claimer (or staff) gives a claim back, and the wish is open again; the resident
    cancels their wish; a cancelled wish cannot be claimed or confirmed."""
    wish_id = staff_wish(sessions, world)
    with sessions() as session:
        first, second = actor_named(session, "helper1"), actor_named(session, "helper2")
        board.claim_wish(session, first, wish_id)
        with pytest.raises(Forbidden):
            board.release_wish(session, second, wish_id)
        assert board.release_wish(session, first, wish_id).status == "open"
        board.claim_wish(session, second, wish_id)
        resident = actor_named(session, "resident1")
        assert board.cancel_wish(session, resident, wish_id).status == "cancelled"
        with pytest.raises(Conflict):
            board.claim_wish(session, first, wish_id)
        with pytest.raises(Conflict):
            board.confirm_wish(session, actor_named(session, "staff"), wish_id)


def test_wishes_and_units_are_checked_and_scoped(sessions: Sessions, world: World) -> None:
    """Bad input is refused naming the field; a helper cannot post or confirm; duplicate unit
    names are a Conflict; a wish of another street is not found."""
    resident_id = a_resident(sessions, world)
    with sessions() as session:
        staff, helper = actor_named(session, "staff"), actor_named(session, "helper1")
        with pytest.raises(BadInput) as bad:
            board.post_wish(session, staff, "  ", "thing", resident_id=resident_id)
        assert bad.value.field == "title"
        with pytest.raises(BadInput):
            board.post_wish(session, staff, "x", "money", resident_id=resident_id)
        with pytest.raises(BadInput):
            board.post_wish(session, staff, "x", "thing", "", 5000, resident_id)
        with pytest.raises(Forbidden):
            board.post_wish(session, helper, "x", "thing")
        partners.add_partner(session, staff, "第一党支部", "party_branch")
        with pytest.raises(Conflict):
            partners.add_partner(session, staff, "第一党支部", "party_branch")
        with pytest.raises(BadInput):
            partners.add_partner(session, staff, "某公司", "charity")
        wish = board.post_wish(session, staff, "x", "thing", "", 5, resident_id)
        with pytest.raises(Forbidden):
            board.confirm_wish(session, helper, wish.id)
        with pytest.raises(NotFound):
            board.claim_wish(session, helper, 99999)


@pytest.mark.broken_db("wish points without a payment record, on purpose")
def test_the_checker_finds_wish_points_paid_outside_a_confirmation(
    sessions: Sessions, world: World
) -> None:
    """A ``wish`` entry that no confirmed wish's payment names is reported (paid once)."""
    with sessions() as session:
        session.add(PointsEntry(helper_id=world.helper_ids[0], amount=5, kind=PointsKind.WISH))
        session.commit()
        codes = {v.code for v in check_database(session)}
    assert "wish_payment" in codes
