"""What the city-sized pages read (issue 13, bench/city_db_bench.py): a page of follow-ups reads
its orders and feedback in one go, not one row at a time; a helper's circles find the ledger's
lists that name them by the lists' text, exactly as before."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.services.circles import members
from api.services.closing.visits import FollowUpView, give_feedback, list_follow_ups
from api.settings import Settings
from api.store.tables import HelperRow, ResidentRow
from tests.api.conftest import World, actor_named, sql_statements
from tests.api.test_follow_up_rules import confirmed_orders, set_rules, two_kinds
from tests.api.test_orders import make_other_resident


def test_a_page_of_follow_ups_reads_as_much_for_five_rows_as_for_two(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Listing follow-ups takes as many statements for five rows (two of low scores) as for
    two, and each row still carries its own order, resident and score."""
    first, other, _category = two_kinds(sessions, world)
    stranger = make_other_resident(sessions, world)
    set_rules(sessions, world, [], 100)  # every confirmed order is followed up
    (one,) = confirmed_orders(sessions, settings, world, [first])

    def listing() -> tuple[list[FollowUpView], list[str]]:
        with sessions() as session:
            staff = actor_named(session, "staff")
            with sql_statements(session.get_bind()) as statements:
                return list_follow_ups(session, staff, settings=settings).items, statements

    def score(order_id: int, value: int) -> None:
        with sessions() as session:
            give_feedback(session, settings, actor_named(session, "staff"), order_id, value)

    score(one, 1)  # a low score: a second follow-up of that order, with its feedback
    listed, for_two = listing()
    assert sorted((f.order_id, f.score or 0) for f in listed) == [(one, 0), (one, 1)]
    two, three = confirmed_orders(sessions, settings, world, [other, stranger])
    score(three, 1)  # a low score: a second follow-up of that order
    listed, for_five = listing()
    scores = sorted((f.order_id, f.score or 0) for f in listed)
    assert scores == sorted([(one, 0), (one, 1), (two, 0), (three, 0), (three, 1)])
    assert {f.resident_id for f in listed} == {first, other, stranger}
    assert len(for_five) == len(for_two)


def test_a_helpers_circles_from_the_ledger_match_the_whole_code(
    sessions: sessionmaker[Session], world: World
) -> None:
    """A ledger list naming a helper puts the resident on the helper's circles page; a list
    naming only a longer code that starts with the helper's, or one where ``_`` stands in for
    another character, does not."""
    other = make_other_resident(sessions, world)
    with sessions() as session:
        helper = session.get_one(HelperRow, world.helper_ids[0])
        helper.code = "H_7"
        resident = session.scalars(
            select(ResidentRow)
            .where(ResidentRow.street_id == world.street_id, ResidentRow.id != other)
            .order_by(ResidentRow.id)
        ).first()
        assert resident is not None
        resident.circle = ["H_7"]
        session.get_one(ResidentRow, other).circle = ["H_70", "HX7"]
        session.commit()
        shown = members.helper_circles(session, actor_named(session, "staff"), helper.id)
        assert [c.resident_id for c in shown] == [resident.id]
