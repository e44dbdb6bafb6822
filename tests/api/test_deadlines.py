"""The closed loop's owner and deadline (首接负责, 定时限) and the roll-over of orders nobody could
take: who owns a new order and when it is due, which orders roll into a nightly run, and which
are overdue."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.actor import actor_of
from api.services.closing.deadlines import day_end, is_overdue
from api.services.matching.nightly import run_nightly
from api.services.matching.problem import build_problem
from api.services.matching.runs import get_run
from api.services.offers.assign import local_today, to_local
from api.services.orders import OrderFilters, OrderSpec, list_orders, place_order
from api.settings import Settings
from api.store.statuses import OrderStatus
from api.store.tables import OrderRow, OrderSeries, ResidentRow, Street, UserRow, utcnow
from tests.api.conftest import PASSWORD, World, actor_named, login
from tests.api.loop_support import tomorrow
from tests.api.test_web_loop import listed
from tests.api.test_web_staff import web_login

ITEM = "S01"


def _place(session: Session, settings: Settings, username: str, day: dt.date) -> int:
    actor = actor_named(session, username)
    resident = session.scalars(select(ResidentRow).order_by(ResidentRow.id)).first()
    assert resident is not None
    return place_order(
        session, settings, actor, OrderSpec(item=ITEM, date=day, resident_id=resident.id)
    ).id


def test_staff_own_what_they_enter_and_the_street_sets_the_deadline(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """An order staff enter is theirs (首接负责) and due the street's promised hours after it was
    placed, or at the end of its day if that is later; a resident's own order has no owner yet;
    both remember the date first asked for."""
    day = tomorrow(settings)
    with sessions() as session:
        session.execute(update(Street).values(default_deadline_hours=24))
        resident = session.scalars(select(ResidentRow).order_by(ResidentRow.id)).first()
        assert resident is not None
        account = add_user(session, "res1", PASSWORD, "resident", resident_id=resident.id)
        session.commit()
        before = utcnow()
        by_staff = session.get_one(OrderRow, _place(session, settings, "staff", day))
        own = place_order(session, settings, actor_of(account), OrderSpec(item=ITEM, date=day))
        staff = session.scalars(select(UserRow).where(UserRow.username == "staff")).one()
        assert by_staff.owner_id == staff.id and by_staff.first_date == day
        assert by_staff.due_at is not None and by_staff.placed_at is not None
        promised = by_staff.placed_at + dt.timedelta(hours=24)
        assert by_staff.due_at == max(promised, day_end(settings, day)) >= promised
        assert before <= by_staff.placed_at
        assert own.owner_id is None and own.due_at is not None and not own.overdue


def test_an_order_for_a_later_day_is_not_overdue_before_its_day_ends(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """The promise never ends before the day asked for: an order placed ten days ahead is due
    at the end of that day (street time), not 72 hours after it was placed, and is not overdue
    four days later; an order for today keeps the street's promised hours."""
    today = local_today(settings)
    with sessions() as session:
        later = session.get_one(
            OrderRow, _place(session, settings, "staff", today + dt.timedelta(days=10))
        )
        now = session.get_one(OrderRow, _place(session, settings, "staff", today))
        assert later.due_at == day_end(settings, later.date)
        assert to_local(settings, later.due_at).date() == later.date + dt.timedelta(days=1)
        assert to_local(settings, later.due_at).time() == dt.time()
        four_days = utcnow() + dt.timedelta(days=4)
        assert not is_overdue(later.status, later.due_at, four_days)
        assert now.due_at is not None and now.placed_at is not None
        assert now.due_at == now.placed_at + dt.timedelta(hours=72)


def _open_order(sessions: sessionmaker[Session], settings: Settings, day: dt.date) -> int:
    with sessions() as session:
        return _place(session, settings, "staff", day)


def test_an_open_order_rolls_into_the_nightly_until_its_deadline(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """The nightly run of tomorrow takes the street's open one-off orders of earlier days that
    are not yet past their deadline: their date moves to tomorrow (the first date kept), they
    count one more day waited, and the run matches them. An order past its deadline, one with
    no deadline, a recurring order's occurrence and a cancelled order stay where they were; a
    run planned further ahead than tomorrow moves nothing."""
    night = tomorrow(settings)
    earlier = night - dt.timedelta(days=2)
    rolling, late, occurrence, cancelled, undated = (
        _open_order(sessions, settings, night) for _ in range(5)
    )
    with sessions() as session:
        session.execute(update(OrderRow).values(date=earlier, first_date=earlier))
        session.execute(
            update(OrderRow)
            .where(OrderRow.id == late)
            .values(due_at=utcnow() - dt.timedelta(hours=1))
        )
        session.execute(update(OrderRow).where(OrderRow.id == undated).values(due_at=None))
        session.execute(
            update(OrderRow).where(OrderRow.id == cancelled).values(status=OrderStatus.CANCELLED)
        )
        session.commit()
    with sessions() as session:  # a series occurrence: the same order, marked as one
        resident = session.get_one(OrderRow, occurrence).resident_id
        staff = session.scalars(select(UserRow.id).where(UserRow.username == "staff")).one()
        series = OrderSeries(
            resident_id=resident, item=ITEM, weekdays=[0], start_date=earlier, created_by=staff
        )
        session.add(series)
        session.flush()
        session.execute(
            update(OrderRow).where(OrderRow.id == occurrence).values(series_id=series.id)
        )
        session.commit()
    run_nightly(sessions, settings, world.street_id, night + dt.timedelta(days=2))  # ahead
    with sessions() as session:
        assert session.get_one(OrderRow, rolling).date == earlier
    run_nightly(sessions, settings, world.street_id, night)
    with sessions() as session:
        dates = {i: session.get_one(OrderRow, i).date for i in (rolling, late, occurrence)}
        dates |= {i: session.get_one(OrderRow, i).date for i in (cancelled, undated)}
        assert dates == {
            rolling: night, late: earlier, occurrence: earlier, cancelled: earlier,
            undated: earlier,
        }  # fmt: skip
        moved = session.get_one(OrderRow, rolling)
        assert moved.first_date == earlier and moved.status != OrderStatus.CANCELLED
        problem = build_problem(session, world.street_id, night, [moved]).problem
        placed = moved.placed_at.date()
        assert problem.orders[0].days_waited == max(0, (night - placed).days - 1)


def test_overdue_orders_are_flagged_and_listed(
    sessions: sessionmaker[Session], world: World, settings: Settings, client: TestClient
) -> None:
    """An order past its deadline with its result still owed is overdue: flagged on its view,
    found by the list's ``overdue`` filter (and left out by ``overdue=false``); one cancelled
    after its deadline is not (nor one done or confirmed: ``is_overdue``). The API filter takes
    true or false only; the staff orders page's "overdue only" lists the same."""
    day = tomorrow(settings)
    owed, finished = (_open_order(sessions, settings, day) for _ in range(2))
    with sessions() as session:
        past = utcnow() - dt.timedelta(minutes=5)
        session.execute(
            update(OrderRow).where(OrderRow.id.in_([owed, finished])).values(due_at=past)
        )
        session.execute(
            update(OrderRow).where(OrderRow.id == finished).values(status=OrderStatus.CANCELLED)
        )
        session.commit()
        staff = actor_named(session, "staff")
        found = list_orders(session, staff, OrderFilters(overdue=True)).items
        assert [o.id for o in found] == [owed] and found[0].overdue
        others = {
            o.id for o in list_orders(session, staff, OrderFilters(overdue=False), 1, 500).items
        }
        assert owed not in others and finished in others
    headers = login(client, "staff")
    answer = client.get("/orders?overdue=true", headers=headers)
    assert answer.status_code == 200 and [o["id"] for o in answer.json()["items"]] == [owed]
    assert answer.json()["items"][0]["due_at"].endswith("Z")
    assert client.get("/orders?overdue=maybe", headers=headers).status_code == 422
    web_login(client, "staff")  # the orders page's "overdue only" box asks the same filter
    page = client.get("/s/orders", params={"date_from": "", "overdue": "1"}).text
    assert listed(page) == [owed] and 'name="overdue" value="1" checked' in page
    assert finished in listed(client.get("/s/orders", params={"date_from": ""}).text)


def test_only_an_order_owing_its_result_is_overdue() -> None:
    """``is_overdue``: past the deadline and waiting for review, open, offered or assigned;
    never when done, confirmed, cancelled or rejected, nor without a deadline or before it."""
    now = utcnow()
    past, future = now - dt.timedelta(seconds=1), now + dt.timedelta(hours=1)
    for status in OrderStatus:
        owed = status in (
            OrderStatus.REVIEW,
            OrderStatus.OPEN,
            OrderStatus.OFFERED,
            OrderStatus.ASSIGNED,
        )
        assert is_overdue(status, past, now) is owed, status
        assert not is_overdue(status, future, now) and not is_overdue(status, None, now)


def test_uncovered_orders_are_listed_overdue_first_then_by_urgency(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """A run's uncovered orders (the run page's list) come overdue first (flagged), then by
    priority, most urgent first, then by date and start of their window."""
    day = tomorrow(settings)
    with sessions() as session:
        session.execute(update(OrderRow).values(date=day))
        session.commit()
    run = run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        staff = actor_named(session, "staff")
        listed = get_run(session, settings, staff, run.id).unmatched
        assert len(listed) >= 3
        late = listed[-1].order_id  # made overdue now: it comes first
        session.execute(
            update(OrderRow)
            .where(OrderRow.id == late)
            .values(due_at=utcnow() - dt.timedelta(hours=1))
        )
        session.commit()
        again = get_run(session, settings, staff, run.id).unmatched
        assert again[0].order_id == late and again[0].overdue
        assert not any(u.overdue for u in again[1:])
        rows = {o.id: o for o in session.scalars(select(OrderRow))}
        keys = []
        for u in again[1:]:
            order = rows[u.order_id]
            start = order.window_start
            keys.append((-order.priority, order.date, start is None, start or 0))
        assert keys == sorted(keys)
