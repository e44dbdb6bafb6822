"""The closed loop's owner and deadline (五定: 定责任、定时限): who answers for an order and by when
its result is promised; orders past that are overdue. And the roll-over: an order nobody could take
on its date joins the next nightly run, its days waited counted (the matcher raises its priority
for each), until it is matched or cancelled or its deadline passes (then it waits, overdue, for
its owner).

An order's owner is the staff member who entered it (a resident's own order has none until staff
take it); its deadline is the street's promise (``streets.default_deadline_hours``) from when it
was placed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import CursorResult, and_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from api.services.offers.assign import local_today, to_utc
from api.settings import Settings
from api.store.statuses import OrderStatus
from api.store.tables import OrderRow, Street, UserRow

log = logging.getLogger("qunbang.deadlines")

# What an order still owes: past its deadline in one of these it is overdue (waiting for
# review included: the promise runs from when the order was placed).
PENDING_RESULT = (OrderStatus.REVIEW, OrderStatus.OPEN, OrderStatus.OFFERED, OrderStatus.ASSIGNED)


def promise(
    session: Session, settings: Settings, order: OrderRow, owner_id: int | None, now: dt.datetime
) -> None:
    """Give a new order its owner and its deadline (定时限): the street's promised hours from
    ``now``, but never before the end of the day asked for (street time) — an order placed for
    a day weeks ahead is not overdue while its day has not come."""
    hours = session.scalar(
        select(Street.default_deadline_hours).where(Street.id == order.street_id)
    )
    order.owner_id = owner_id
    promised = now + dt.timedelta(hours=hours if hours is not None else 72)
    order.due_at = max(promised, day_end(settings, order.date))
    order.first_date = order.date


def day_end(settings: Settings, date: dt.date) -> dt.datetime:
    """The end of ``date`` in street time, as a stored (naive UTC) time."""
    return to_utc(settings, date + dt.timedelta(days=1), 0)


def owner_for(session: Session, user_id: int | None) -> int | None:
    """Who owns an order placed by ``user_id``: that user if staff (首接负责), else nobody yet."""
    if user_id is None:
        return None
    role = session.scalar(select(UserRow.role).where(UserRow.id == user_id))
    return user_id if role == "staff" else None


def is_overdue(status: str, due_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Past its deadline with its result still owed."""
    return due_at is not None and due_at < now and status in PENDING_RESULT


def overdue_where(now: dt.datetime) -> ColumnElement[bool]:
    """``is_overdue`` as a condition on orders (for lists and counts)."""
    return and_(
        OrderRow.due_at.is_not(None), OrderRow.due_at < now, OrderRow.status.in_(PENDING_RESULT)
    )


def roll_over(
    session: Session, settings: Settings, street_id: int, date: dt.date, now: dt.datetime
) -> int:
    """Move the street's open one-off orders dated before ``date`` and not yet past their
    deadline to ``date`` (the caller is about to match ``date`` and holds the street's write
    lock); the number moved. Only a run of today or tomorrow (the nightly) takes them: a run
    planned further ahead leaves them for the nights in between. An order past its deadline (or
    with none: placed before deadlines existed) stays where it is, overdue, for its owner to act
    on; a recurring order's occurrence does not move (its series places the next one). A moved
    order's version is bumped, as for any change a plan may rest on."""
    if date > local_today(settings, now) + dt.timedelta(days=1):
        return 0
    moved: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(OrderRow)
        .where(
            OrderRow.street_id == street_id,
            OrderRow.status == OrderStatus.OPEN,
            OrderRow.series_id.is_(None),
            OrderRow.date < date,
            OrderRow.due_at > now,  # past its deadline it stays, overdue, for staff to act on
        )
        .values(date=date, version=OrderRow.version + 1)
        .execution_options(synchronize_session=False)
    )
    count = moved.rowcount or 0
    if count:
        log.info("street %s: %s open order(s) rolled over to %s", street_id, count, date)
    return count
