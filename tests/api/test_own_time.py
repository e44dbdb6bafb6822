"""A helper's own time (hours per weekday, leave, "pause this week") reaches matching as data:
from the next day on, the problem gives the matcher the helper's windows of that date (none
on leave or while paused), so the next nightly run offers them nothing then; a change that
would rule out a visit they accepted is refused naming the day, pending offers it rules out
are withdrawn. Runs on SQLite and PostgreSQL, with the invariant check after each test."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.actor import Actor, actor_of
from api.services.errors import BadInput, Conflict
from api.services.hours import own_time
from api.services.matching.keys import helper_key
from api.services.matching.nightly import run_nightly
from api.services.matching.problem import build_problem
from api.services.offers.answers import accept
from api.services.offers.assign import local_today, to_utc
from api.settings import Settings
from api.store.tables import HelperRow, OfferRow, OrderRow, UserRow
from tests.api.conftest import DATE, PASSWORD, StateContext, World, database_state
from tests.api.loop_support import make_roomy, matched_tomorrow, move_orders, tomorrow
from tests.api.test_orders import NOW

FRIDAY = NOW  # 2026-11-20 10:00 street time; DATE is the Monday after


def helper_as_actor(sessions: sessionmaker[Session], helper_id: int) -> Actor:
    """The helper's own account (made here if they have none)."""
    with sessions() as session:
        user = session.scalar(select(UserRow).where(UserRow.helper_id == helper_id))
        if user is None:
            user = add_user(session, f"own-{helper_id}", PASSWORD, "helper", helper_id=helper_id)
            session.commit()
        return actor_of(user)


def own(sessions: sessionmaker[Session], change: Any, *args: Any, **kwargs: Any) -> Any:
    """``change`` (a service of ``own_time``) in a session of its own."""
    with sessions() as session:
        return change(session, *args, **kwargs)


def windows(sessions: sessionmaker[Session], world: World, day: dt.date) -> dict[int, tuple]:
    """Each helper's availability in the problem of ``day`` (one order of the street), and
    "no orders" when they take none that day."""
    with sessions() as session:
        order = session.scalars(select(OrderRow).order_by(OrderRow.id)).first()
        assert order is not None
        order.date = day  # only read into the problem, never written
        problem = build_problem(session, world.street_id, day, [order]).problem
        session.rollback()
        found = {}
        for h in world.helper_ids[:3]:
            helper = problem.helper(helper_key(h))
            spans = tuple((w.start, w.end) for w in helper.availability)
            found[h] = spans if helper.max_orders else ("no orders", *spans)
        return found


def test_leave_pause_and_weekday_hours_become_the_matchers_windows(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Leave empties the day's windows; weekday hours narrow the usual ones (never widen
    them); the pause runs through Sunday; a day before the change binds is as it was."""
    first, second, third = world.helper_ids[:3]
    with sessions() as session:
        usual = {h: session.get_one(HelperRow, h).availability for h in (first, second, third)}
    before = windows(sessions, world, DATE)
    own(sessions, own_time.add_leave, settings, helper_as_actor(sessions, first), DATE, DATE,
                       now=FRIDAY)  # fmt: skip
    monday = [None] * 7
    monday[0] = [(0, 9 * 60), (14 * 60, 24 * 60)]
    own(sessions, own_time.set_week_hours, settings, helper_as_actor(sessions, second), monday,
                            now=FRIDAY)  # fmt: skip
    mine = own(sessions, own_time.pause_this_week, settings, helper_as_actor(sessions, third),
                                    now=FRIDAY)  # fmt: skip
    assert mine.paused_until == dt.date(2026, 11, 22)  # the Sunday
    after = windows(sessions, world, DATE)
    assert after[first] == ("no orders",)
    expected = tuple(
        (max(a, c), min(b, d))
        for a, b in usual[second]
        for c, d in monday[0]
        if max(a, c) < min(b, d)
    )
    assert after[second] == tuple(sorted(expected)) and after[third] == before[third]
    sunday = windows(sessions, world, dt.date(2026, 11, 22))
    assert sunday[third] == ("no orders",) and sunday[first] == before[first]
    friday = windows(sessions, world, dt.date(2026, 11, 20))  # the day of the change
    assert friday[third] == before[third]


def test_own_time_input_is_checked(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Leave starts tomorrow at the earliest and ends after it starts; windows lie in the day
    and do not overlap; seven weekdays are given; pause on a Sunday runs to next Sunday."""
    actor = helper_as_actor(sessions, world.helper_ids[0])
    friday = dt.date(2026, 11, 20)
    cases = [
        lambda s: own_time.add_leave(s, settings, actor, friday, friday, now=FRIDAY),
        lambda s: own_time.add_leave(s, settings, actor, DATE, friday, now=FRIDAY),
        lambda s: own_time.set_week_hours(s, settings, actor, [None] * 6, now=FRIDAY),
        lambda s: own_time.set_week_hours(s, settings, actor, [[(600, 540)]] + [None] * 6),
        lambda s: own_time.set_week_hours(
            s, settings, actor, [[(0, 600), (500, 700)]] + [None] * 6
        ),
    ]
    for case in cases:
        with sessions() as session, pytest.raises(BadInput):
            case(session)
    sunday_noon = to_utc(settings, dt.date(2026, 11, 22), 720)
    mine = own(sessions, own_time.pause_this_week, settings, actor, now=sunday_noon)
    assert mine.paused_until == dt.date(2026, 11, 29)
    own(sessions, own_time.resume, settings, actor, now=sunday_noon)
    with sessions() as session:
        assert session.get_one(HelperRow, world.helper_ids[0]).paused_until is None


def _roomy_tomorrow(state: StateContext) -> dt.date:
    """Tomorrow, every seeded order dated then, every helper free all day (not matched yet)."""
    day = tomorrow(state.settings)
    move_orders(state.sessions, day)
    make_roomy(state.sessions)
    return day


roomy = database_state("roomy", _roomy_tomorrow)


def _matched_tomorrow(state: StateContext) -> dt.date:
    """Tomorrow, with every order of the roomy street matched by a nightly run."""
    return matched_tomorrow(state)


day = database_state("day", _matched_tomorrow)


def test_the_next_nightly_run_offers_nothing_on_a_helpers_time_off(
    sessions: sessionmaker[Session], settings: Settings, world: World, roomy: dt.date
) -> None:
    """Helpers on leave, paused, or with no hours on that weekday get no offer from the next
    run, which still gives out offers to the others."""
    off = world.helper_ids[:9]
    for helper_id in off[:3]:
        own(
            sessions,
            own_time.add_leave,
            settings,
            helper_as_actor(sessions, helper_id),
            roomy,
            roomy,
        )
    for helper_id in off[3:6]:
        own(sessions, own_time.pause_this_week, settings, helper_as_actor(sessions, helper_id))
    week: list = [None] * 7
    week[roomy.weekday()] = []
    for helper_id in off[6:]:
        own(sessions, own_time.set_week_hours, settings, helper_as_actor(sessions, helper_id), week)
    paused = local_today(settings) + dt.timedelta(days=6 - local_today(settings).weekday() or 7)
    run_nightly(sessions, settings, world.street_id, roomy)
    with sessions() as session:
        offered = set(session.scalars(select(OfferRow.helper_id)))
    assert offered, "the run gave out no offer at all"
    assert not offered & set(off[:3]) and not offered & set(off[6:])
    if roomy <= paused:
        assert not offered & set(off[3:6])


def test_time_off_over_an_accepted_visit_is_refused_and_pending_offers_are_withdrawn(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """Leave on a day with a visit the helper accepted is refused naming the day (nothing
    saved); leave over a pending offer saves and withdraws that offer."""
    with sessions() as session:
        pending = session.scalars(
            select(OfferRow).where(OfferRow.status == "pending").order_by(OfferRow.id)
        ).all()
        first, second = pending[0], next(o for o in pending if o.helper_id != pending[0].helper_id)
    with sessions() as session:
        accept(session, settings, first.helper_id, first.id)
    with sessions() as session, pytest.raises(Conflict, match=day.isoformat()):
        own_time.add_leave(session, settings, helper_as_actor(sessions, first.helper_id), day, day)
    with sessions() as session:
        assert session.get_one(HelperRow, first.helper_id).leave_dates == []
        assert session.get_one(OfferRow, first.id).status == "accepted"
    own(
        sessions,
        own_time.add_leave,
        settings,
        helper_as_actor(sessions, second.helper_id),
        day,
        day,
    )
    with sessions() as session:
        assert session.get_one(OfferRow, second.id).status == "withdrawn"
        assert session.get_one(HelperRow, second.helper_id).leave_dates == [day.isoformat()]
