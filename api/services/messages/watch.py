"""The ticker's watch on deadlines (a step of ``ticker.STEPS``): each round queues, once each,

- to an order's owner: the order is at risk (its deadline within ``AT_RISK`` and its team not
  yet complete: open, or offered) or overdue (``deadlines.is_overdue``);
- to whoever ordered (``results.order_requesters``): an overdue order could not be done in the
  promised time;
- to a follow-up's owner: the visit is still to do past its due day (street time).

A round looks only at deadlines passed within ``LOOKBACK`` (a ticker stopped for longer misses
those), so it reads a bounded number of rows however long the history, and it takes the write
lock only when something is left to tell (the usual round reads and leaves). Dedupe keys make
every message go once, whoever else (a request in flight) queues the same.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from api.i18n import format_day, format_moment
from api.services.closing.deadlines import overdue_where
from api.services.messages.results import (
    item_name,
    order_requesters,
    owner_key,
    requester_key,
    tell_owner,
    tell_requesters,
    when,
)
from api.services.offers.assign import local_today, to_local
from api.settings import Settings
from api.store.db import begin_write
from api.store.statuses import FollowUpStatus, NotificationKind, OrderStatus
from api.store.tables import FollowUpRow, NotificationRow, OrderRow, ResidentRow, utcnow

log = logging.getLogger("qunbang.watch")
AT_RISK = dt.timedelta(hours=12)  # an uncovered order this close to its deadline is at risk
LOOKBACK = dt.timedelta(days=7)  # deadlines passed longer ago are not looked at again
# Rows of each kind a round tells at most (the rest wait for the next round): a backlog, e.g.
# the first round after an outage, holds the write lock for a bounded time.
SCAN_LIMIT = 100
UNCOVERED = (OrderStatus.OPEN, OrderStatus.OFFERED)
OVERDUE = NotificationKind.ORDER_OVERDUE
AT_RISK_KIND = NotificationKind.ORDER_AT_RISK
FOLLOW_UP = NotificationKind.FOLLOW_UP_OVERDUE


def watch_deadlines(session: Session, settings: Settings, now: dt.datetime | None = None) -> int:
    """One round of the watch: the number of messages queued."""
    now = now or utcnow()
    if not _anything_to_tell(session, settings, now):
        session.commit()
        return 0
    begin_write(session)
    told = sum(_tell_overdue(session, settings, o) for o in _overdue(session, now))
    told += sum(_tell_at_risk(session, settings, o) for o in _at_risk(session, now))
    told += sum(_tell_follow_up(session, f) for f in _follow_ups(session, settings, now))
    session.commit()
    if told:
        log.info("deadline watch: %s message(s) queued", told)
    return told


def follow_up_key(follow_up_id: int) -> str:
    return f"{FOLLOW_UP}:follow_up:{follow_up_id}"


def _anything_to_tell(session: Session, settings: Settings, now: dt.datetime) -> bool:
    """Whether a message is missing: an owner's (found by the query) or a requester's of an
    order with no owner (their keys checked in one read)."""
    if _at_risk(session, now) or _follow_ups(session, settings, now):
        return True
    overdue = _overdue(session, now)
    if any(order.owner_id is not None for order in overdue):
        return True
    wanted = [
        requester_key(NotificationKind.NOT_DONE, order.id, user_id)
        for order in overdue
        for user_id in order_requesters(session, order)
    ]
    if not wanted:
        return False
    found = session.scalars(
        select(NotificationRow.dedupe_key).where(NotificationRow.dedupe_key.in_(wanted))
    )
    return len(set(found)) < len(set(wanted))


def _key_sql(prefix: str, column: Any) -> ColumnElement[Any]:
    return prefix + cast(column, String)


def _untold(key: ColumnElement[Any]) -> ColumnElement[bool]:
    return ~select(NotificationRow.id).where(NotificationRow.dedupe_key == key).exists()


def _overdue(session: Session, now: dt.datetime) -> list[OrderRow]:
    """Orders overdue within ``LOOKBACK`` whose owner was not told (or with no owner: their
    requesters' keys decide)."""
    told_owner = _untold(_key_sql(f"{OVERDUE}:order:", OrderRow.id))
    stmt = select(OrderRow).where(
        overdue_where(now),
        OrderRow.due_at >= now - LOOKBACK,
        or_(OrderRow.owner_id.is_(None), told_owner),
    )
    return _limited(session, stmt)


def _at_risk(session: Session, now: dt.datetime) -> list[OrderRow]:
    """Owned orders due within ``AT_RISK`` that nobody has taken yet, owner not told."""
    stmt = select(OrderRow).where(
        OrderRow.due_at > now,
        OrderRow.due_at <= now + AT_RISK,
        OrderRow.status.in_(UNCOVERED),
        OrderRow.owner_id.is_not(None),
        _untold(_key_sql(f"{AT_RISK_KIND}:order:", OrderRow.id)),
    )
    return _limited(session, stmt)


def _limited(session: Session, stmt: Select[OrderRow]) -> list[OrderRow]:
    return list(session.scalars(stmt.order_by(OrderRow.id).limit(SCAN_LIMIT)))


def _follow_ups(session: Session, settings: Settings, now: dt.datetime) -> list[FollowUpRow]:
    """Owned follow-ups still to do past their due day (street time), owner not told."""
    today = local_today(settings, now)
    stmt = (
        select(FollowUpRow)
        .where(
            FollowUpRow.status == FollowUpStatus.SCHEDULED,
            FollowUpRow.due_date < today,
            FollowUpRow.due_date >= today - LOOKBACK,
            FollowUpRow.owner_id.is_not(None),
            _untold(_key_sql(f"{FOLLOW_UP}:follow_up:", FollowUpRow.id)),
        )
        .order_by(FollowUpRow.id)
        .limit(SCAN_LIMIT)
    )
    return list(session.scalars(stmt))


def _deadline(settings: Settings, due_at: dt.datetime) -> Any:
    """The deadline in street time, formatted in the language being written."""
    return lambda: format_moment(to_local(settings, due_at).replace(tzinfo=None))


def _order_params(session: Session, settings: Settings, order: OrderRow) -> dict[str, Any]:
    assert order.due_at is not None
    return {
        "order_id": order.id,
        "item": item_name(session, order),
        "when": lambda: when(order),
        "deadline": _deadline(settings, order.due_at),
    }


def _tell_overdue(session: Session, settings: Settings, order: OrderRow) -> int:
    """The requesters and the owner (if any) of an order that turned overdue."""
    told = tell_requesters(session, order, NotificationKind.NOT_DONE, cause="overdue")
    if order.owner_id is not None:
        payload = {"order": order.id, "date": order.date.isoformat()}
        params = _order_params(session, settings, order)
        key = owner_key(OVERDUE, order.id)
        told += tell_owner(session, order.owner_id, OVERDUE, key, payload, **params)
    return told


def _tell_at_risk(session: Session, settings: Settings, order: OrderRow) -> int:
    assert order.owner_id is not None
    payload = {"order": order.id, "date": order.date.isoformat()}
    params = _order_params(session, settings, order)
    key = owner_key(AT_RISK_KIND, order.id)
    return tell_owner(session, order.owner_id, AT_RISK_KIND, key, payload, **params)


def _tell_follow_up(session: Session, follow_up: FollowUpRow) -> int:
    assert follow_up.owner_id is not None
    order = session.get_one(OrderRow, follow_up.order_id)
    resident = session.get_one(ResidentRow, order.resident_id)
    payload = {"follow_up": follow_up.id, "order": order.id}
    return tell_owner(
        session,
        follow_up.owner_id,
        FOLLOW_UP,
        follow_up_key(follow_up.id),
        payload,
        resident=resident.name,
        order_id=order.id,
        due=lambda: format_day(follow_up.due_date),
    )
