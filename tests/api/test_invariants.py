"""The database invariants (``api.services.matching.invariants``): a clean loop breaks none,
each broken
state is reported under its code with the ids involved, and ``qunbang db check`` exits 0/1/2."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.cli.main import app
from api.services.closing.points import reverse_entry
from api.services.closing.visits import confirm_done
from api.services.errors import Conflict
from api.services.hours import totals
from api.services.matching.invariants import Violation, check_database
from api.services.matching.nightly import run_nightly
from api.services.offers.answers import accept, decline, mark_done
from api.settings import Settings, get_settings
from api.store.tables import (
    AssignmentRow,
    HelperRow,
    OfferRow,
    OrderRow,
    PointsEntry,
    Street,
)
from tests.api.conftest import DATE, StateContext, World, actor_named, database_state
from tests.api.loop_support import live_teams, make_roomy

NOW = dt.datetime(2026, 11, 22, 2, 0)  # naive UTC: the day before the orders, 10:00 street time
runner = CliRunner()


def one_second_settings(url: str) -> Settings:
    """A one-second nightly run: the tiny street needs no more."""
    return Settings(
        database_url=url, tick_seconds=0, nightly_time_limit_s=1, rematch_time_limit_s=1
    )


@pytest.fixture
def settings(db_url: str) -> Settings:
    """A one-second nightly run: the tiny street needs no more."""
    return one_second_settings(db_url)


def _matched(state: StateContext) -> World:
    """The tiny street, roomy, its orders matched by one nightly run."""
    world: World = state.values["world"]
    make_roomy(state.sessions)
    run_nightly(state.sessions, state.settings, world.street_id, DATE, now=NOW)
    return world


matched = database_state("matched", _matched, settings=one_second_settings)


def codes(sessions: sessionmaker[Session], street_id: int | None = None) -> list[str]:
    with sessions() as session:
        return [v.code for v in check_database(session, street_id)]


def a_team(
    sessions: sessionmaker[Session], size: int = 1, status: str = "active"
) -> tuple[int, int, list[OfferRow]]:
    """(order id, assignment id, live members) of the first live team of ``size``."""
    with sessions() as session:
        order_id, (assignment, members) = next(
            (k, v)
            for k, v in sorted(live_teams(session, DATE).items())
            if len(v[1]) == size and v[0].status == status
        )
        return order_id, assignment.id, members


def close_loop(sessions: sessionmaker[Session], settings: Settings, size: int = 1) -> int:
    """Accept, mark done and confirm one team's order; returns the order id."""
    order_id, assignment_id, members = a_team(sessions, size)
    with sessions() as session:
        for offer in members:
            accept(session, settings, offer.helper_id, offer.id, now=NOW)
        on_the_day = NOW + dt.timedelta(days=1)  # done and confirmed from the visit's day on
        mark_done(session, settings, members[0].helper_id, assignment_id, now=on_the_day)
        confirm_done(session, settings, actor_named(session, "staff"), order_id, now=on_the_day)
    return order_id


# ----------------------------------------------------------------------------- a clean loop


def test_a_closed_loop_breaks_nothing(
    sessions: sessionmaker[Session], settings: Settings, matched: World
) -> None:
    """Nightly, accepts, a decline with its re-match, done, confirm and a reversal of base
    points leave every invariant intact."""
    order_id = close_loop(sessions, settings)
    _, _, members = a_team(sessions, 2)
    with sessions() as session:
        accept(session, settings, members[0].helper_id, members[0].id, now=NOW)
        decline(session, settings, members[1].helper_id, members[1].id, now=NOW)
        entry = session.scalars(select(PointsEntry).where(PointsEntry.order_id == order_id)).first()
        assert entry is not None
        reverse_entry(session, actor_named(session, "staff"), entry.id, "no-show", now=NOW)
    assert codes(sessions) == []
    assert codes(sessions, matched.street_id) == []


def test_violation_is_one_line_naming_its_code() -> None:
    """``str(Violation)`` is one line: the code, then the message."""
    line = str(Violation("order_status", "order 4 is open, expected offered"))
    assert line == "order_status: order 4 is open, expected offered"
    assert "\n" not in line


# ----------------------------------------------------------------------------- offers and orders


@pytest.mark.broken_db("a withdrawn assignment keeps its pending offers")
def test_live_offer_on_a_withdrawn_assignment(
    sessions: sessionmaker[Session], matched: World
) -> None:
    """A pending offer left on a withdrawn assignment (the re-run bug) is reported with its ids."""
    order_id, assignment_id, members = a_team(sessions)
    with sessions() as session:
        session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.id == assignment_id)
            .values(status="withdrawn")
        )
        session.execute(update(OrderRow).where(OrderRow.id == order_id).values(status="open"))
        session.commit()
        found = check_database(session)
    assert [v.code for v in found] == ["offer_on_ended_assignment"]
    assert f"offer {members[0].id} " in found[0].message
    assert f"order {order_id}" in found[0].message


@pytest.mark.broken_db("order statuses that disagree with their teams")
def test_order_status_must_follow_its_team(
    sessions: sessionmaker[Session], settings: Settings, matched: World
) -> None:
    """An offered order marked open, and a cancelled order that keeps its team, are reported."""
    first, _, _ = a_team(sessions)
    with sessions() as session:
        second = next(o for o in sorted(live_teams(session, DATE)) if o != first)
        session.execute(update(OrderRow).where(OrderRow.id == first).values(status="open"))
        session.execute(update(OrderRow).where(OrderRow.id == second).values(status="cancelled"))
        session.commit()
    assert sorted(codes(sessions)) == ["cancelled_with_team", "order_status"]


@pytest.mark.broken_db("an active assignment without members; a done one with a pending member")
def test_teams_must_be_whole(sessions: sessionmaker[Session], matched: World) -> None:
    """An active assignment with no live member, and a done assignment whose member is still
    pending, are reported."""
    _, emptied, members = a_team(sessions)
    with sessions() as session:
        session.execute(
            update(OfferRow).where(OfferRow.id == members[0].id).values(status="withdrawn")
        )
        order_id, (assignment, _) = next(
            (k, v) for k, v in sorted(live_teams(session, DATE).items()) if v[0].id != emptied
        )
        session.execute(
            update(AssignmentRow).where(AssignmentRow.id == assignment.id).values(status="done")
        )
        session.execute(update(OrderRow).where(OrderRow.id == order_id).values(status="done"))
        session.commit()
    assert sorted(codes(sessions)) == ["empty_assignment", "unfinished_team_done"]


# ----------------------------------------------------------------------------- matching rules


@pytest.mark.broken_db("a team too large and a helper over their limits")
def test_matching_rules_come_from_the_matchers_verifier(
    sessions: sessionmaker[Session], matched: World
) -> None:
    """An extra member on a one-person team and a helper whose day no longer fits (no order
    allowed, no skill) are reported under the verifier's rule codes."""
    order_id, assignment_id, members = a_team(sessions)
    with sessions() as session:
        outsider = session.scalars(
            select(HelperRow.id).where(HelperRow.id != members[0].helper_id)
        ).first()
        session.add(
            OfferRow(
                assignment_id=assignment_id, helper_id=outsider, respond_by=NOW, status="pending"
            )
        )
        session.execute(
            update(HelperRow)
            .where(HelperRow.id == members[0].helper_id)
            .values(max_orders=0, skills=[])
        )
        session.commit()
        found = check_database(session)
    found_codes = {v.code for v in found}
    assert {"rule_team_size", "rule_max_orders"} <= found_codes
    assert any(f"order {order_id}: " in v.message and "has 2 helper(s)" in v.message for v in found)
    assert all(v.code.startswith("rule_") for v in found)


@pytest.mark.broken_db("helper profiles changed under their visits")
def test_overridden_assignments_are_exempt(sessions: sessionmaker[Session], matched: World) -> None:
    """A staff override (``override_reason``) takes the assignment out of the rule check, and
    only that one."""
    with sessions() as session:
        session.execute(update(HelperRow).values(skills=[], max_orders=0))
        session.commit()
    assert any(c.startswith("rule_") for c in codes(sessions))
    with sessions() as session:
        session.execute(update(AssignmentRow).values(override_reason="发烧，临时换人 / fever"))
        session.commit()
    assert codes(sessions) == []


def test_a_team_with_a_place_to_fill_is_not_too_small(
    sessions: sessionmaker[Session], settings: Settings, matched: World
) -> None:
    """A two-person team whose second member declined and nobody can replace waits, offered,
    without a violation (its size, lead skill and language are checked once it is whole)."""
    _, _, members = a_team(sessions, 2)
    with sessions() as session:
        session.execute(
            update(HelperRow)
            .where(HelperRow.id.not_in([m.helper_id for m in members]))
            .values(active=False)
        )
        session.commit()
        decline(session, settings, members[1].helper_id, members[1].id, now=NOW)
    assert codes(sessions) == []


# ----------------------------------------------------------------------------- points


@pytest.mark.broken_db("base points paid twice and paid for an order not confirmed")
def test_base_points_are_paid_exactly_once(
    sessions: sessionmaker[Session], settings: Settings, matched: World
) -> None:
    """A second base entry for a confirmed member, and a base entry for an order that is not
    confirmed, are reported; a reversed base entry is a legitimate correction."""
    order_id = close_loop(sessions, settings)
    other, _, members = a_team(sessions)
    with sessions() as session:
        paid = session.scalars(select(PointsEntry).where(PointsEntry.order_id == order_id)).one()
        reverse_entry(session, actor_named(session, "staff"), paid.id, "no-show", now=NOW)
        assert check_database(session) == []
        for helper, order in ((paid.helper_id, order_id), (members[0].helper_id, other)):
            entry = PointsEntry(helper_id=helper, amount=5, kind="base", order_id=order)
            session.add(entry)
            session.flush()
            totals.add_points(session, [entry.id])  # only the base points' rules are broken
        session.commit()
    assert sorted(codes(sessions)) == ["base_points_count", "base_points_unearned"]


@pytest.mark.broken_db("a reversal that does not undo its entry")
def test_balances_equal_the_sum_of_the_ledger(
    sessions: sessionmaker[Session], settings: Settings, matched: World
) -> None:
    """A reversal of the wrong amount is reported, and so is the balance it skews."""
    order_id = close_loop(sessions, settings)
    with sessions() as session:
        paid = session.scalars(select(PointsEntry).where(PointsEntry.order_id == order_id)).one()
        session.add(
            PointsEntry(
                helper_id=paid.helper_id,
                amount=-paid.amount - 1,
                kind="reversal",
                order_id=order_id,
                reverses_id=paid.id,
            )
        )
        session.flush()
        totals.rebuild(session)  # only the ledger's own rules are broken
        session.commit()
    assert sorted(codes(sessions)) == ["balance", "reversal_mismatch"]


# ----------------------------------------------------------------------------- the command


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[str]:
    """Point the commands at the test database."""
    monkeypatch.setenv("QUNBANG_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


@pytest.mark.broken_db("the command must see a broken database")
def test_db_check_exits_0_1_or_2(env: str, sessions: sessionmaker[Session], matched: World) -> None:
    """``db check`` prints one summary line and exits 0 on a sound database, one line per
    violation and exit 1 on a broken one, exit 2 for an unknown street."""
    with sessions() as session:
        code = session.get_one(Street, matched.street_id).code
    result = runner.invoke(app, ["db", "check", "--street", code])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1 and "没有违反不变量" in result.output
    with sessions() as session:
        session.execute(update(OrderRow).where(OrderRow.status == "offered").values(status="open"))
        session.commit()
        broken = len(check_database(session))
    result = runner.invoke(app, ["db", "check"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == broken > 0 and all(line.startswith("order_status: ") for line in lines)
    result = runner.invoke(app, ["db", "check", "--street", "nowhere"])
    assert result.exit_code == 2 and "--street" in result.output


def test_db_check_after_a_nightly_and_five_reruns(
    env: str, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The issue's demo flow: after a seeded street's nightly run and five re-runs, with accepts
    and declines in between, ``db check`` reports nothing."""
    run_nightly(sessions, settings, world.street_id, DATE, now=NOW)
    for _ in range(5):
        with sessions() as session:
            pending = session.scalars(
                select(OfferRow)
                .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
                .where(OfferRow.status == "pending", AssignmentRow.status == "active")
                .order_by(OfferRow.id)
            ).all()
            answers = [(o.helper_id, o.id) for o in pending[:3]]
        for n, (helper_id, offer_id) in enumerate(answers):
            with sessions() as session:
                try:
                    if n == 1:
                        decline(session, settings, helper_id, offer_id, "busy", now=NOW)
                    else:
                        accept(session, settings, helper_id, offer_id, now=NOW)
                except Conflict:  # a re-match may have moved it meanwhile
                    pass
        run_nightly(sessions, settings, world.street_id, DATE, now=NOW)
    result = runner.invoke(app, ["db", "check"])
    assert result.exit_code == 0, result.output


# ----------------------------------------------------------------------------- known bugs


@pytest.mark.broken_db("known bug: the emptied team stays active")
def test_a_decline_after_the_visit_day_ends_an_emptied_team(
    sessions: sessionmaker[Session], settings: Settings, matched: World
) -> None:
    """The sole member declining once the visit day is over ends the team (the order is open,
    not offered to nobody), as an emptied team ends everywhere else."""
    _, _, members = a_team(sessions)
    later = NOW + dt.timedelta(days=2)
    with sessions() as session:
        decline(session, settings, members[0].helper_id, members[0].id, "late", now=later)
    assert codes(sessions) == []


@pytest.mark.broken_db("known bug: the emptied team stays active")
def test_the_sole_member_of_an_overridden_team_declining_ends_it(
    sessions: sessionmaker[Session], settings: Settings, matched: World
) -> None:
    """An overridden team is not re-matched, but once its only member declines it ends (the
    order is open and claimable again) rather than staying active with nobody."""
    _, assignment_id, members = a_team(sessions)
    with sessions() as session:
        session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.id == assignment_id)
            .values(override_reason="老人点名要他 / she asked for him")
        )
        session.commit()
        decline(session, settings, members[0].helper_id, members[0].id, "ill", now=NOW)
    assert codes(sessions) == []
