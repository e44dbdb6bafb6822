"""The hours ledger (志愿服务时长): one ``visit`` entry per member when staff confirm a visit,
its minutes from the member's check-in and check-out, or the item's planned duration when they
did not clock both. Append-only (the database refuses UPDATE and DELETE): a correction is a
reversal naming the entry it undoes (at most once), then a new visit entry. A helper's hours
over a period are the sum of their entries whose visit falls in it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.closing.points import helper_for_staff, ledger_reason
from api.services.errors import BadInput, Conflict, NotFound
from api.services.hours import totals
from api.services.offers.assign import item_of
from api.services.paging import fetch_page
from api.services.types import UtcDateTime
from api.store.db import begin_write
from api.store.statuses import HoursKind, HoursSource, Role
from api.store.tables import (
    AssignmentRow,
    HoursEntry,
    OrderRow,
    VisitClockRow,
    utcnow,
)

log = logging.getLogger("qunbang.hours")
MAX_VISIT_MINUTES = 24 * 60  # a clocked visit counts at most a day


@dataclass(frozen=True)
class HoursEntryView:
    id: int
    helper_id: int
    order_id: int | None
    served_on: dt.date
    minutes: int
    kind: str
    source: str
    reverses_id: int | None
    reversed_by: int | None
    reason: str
    created_at: UtcDateTime


@dataclass(frozen=True)
class HoursHistory:
    helper_id: int
    total_minutes: int
    items: list[HoursEntryView]
    total: int
    page: int
    page_size: int


def clocked_minutes(clock: VisitClockRow | None) -> int | None:
    """The minutes between a member's check-in and check-out (None unless both are there),
    at most ``MAX_VISIT_MINUTES``."""
    if clock is None or clock.in_at is None or clock.out_at is None:
        return None
    seconds = (clock.out_at - clock.in_at).total_seconds()
    return max(0, min(MAX_VISIT_MINUTES, round(seconds / 60)))


def visit_minutes(
    session: Session, order: OrderRow, assignment_id: int, helper_id: int
) -> tuple[int, str]:
    """A member's minutes for a visit and where they come from (``HoursSource``)."""
    clock = session.scalar(
        select(VisitClockRow).where(
            VisitClockRow.assignment_id == assignment_id, VisitClockRow.helper_id == helper_id
        )
    )
    minutes = clocked_minutes(clock)
    if minutes is not None:
        return minutes, HoursSource.CLOCK
    return item_of(session, order).duration_min, HoursSource.PLANNED


def credit_visit(
    session: Session,
    actor: Actor,
    order: OrderRow,
    assignment: AssignmentRow,
    helper_ids: Iterable[int],
    now: dt.datetime,
) -> dict[int, int]:
    """One ``visit`` entry per member for a visit staff confirm (part of the caller's
    transaction); returns helper id -> minutes credited."""
    credited, entries = {}, []
    for helper_id in dict.fromkeys(helper_ids):
        minutes, source = visit_minutes(session, order, assignment.id, helper_id)
        # No reason: pages name the visit in the reader's language ("visit of order …").
        entries.append(_entry(helper_id, order, minutes, HoursKind.VISIT, source, None, "",
                              actor, now))  # fmt: skip
        session.add(entries[-1])
        credited[helper_id] = minutes
    session.flush()
    totals.add_hours(session, [entry.id for entry in entries])
    return credited


def recredit(
    session: Session,
    actor: Actor,
    order: OrderRow,
    assignment: AssignmentRow,
    helper_id: int,
    reason: str,
    now: dt.datetime,
) -> HoursEntryView | None:
    """After a correction of a confirmed visit's clock: reverse the member's entry for it and
    credit the minutes as they now are (part of the caller's transaction). None when the
    minutes did not change."""
    current = _unreversed_visit(session, order.id, helper_id)
    minutes, source = visit_minutes(session, order, assignment.id, helper_id)
    if current is not None and (current.minutes, current.source) == (minutes, source):
        return None
    if current is not None:
        _add_reversal(session, current, reason, actor, now)
    entry = _entry(helper_id, order, minutes, HoursKind.VISIT, source, None, reason, actor, now)
    session.add(entry)
    session.flush()
    totals.add_hours(session, [entry.id])
    return _view(entry, None)


def reverse_entry(
    session: Session, actor: Actor, entry_id: int, reason: str, now: dt.datetime | None = None
) -> HoursEntryView:
    """Staff undo an hours entry by adding its opposite (a visit that did not take place, a
    helper who was not there). At most once per entry; a reversal is not reversed."""
    now = now or utcnow()
    begin_write(session)
    original = session.get(HoursEntry, entry_id)
    missing = NotFound(_("hours entry %(entry_id)s not found", entry_id=entry_id))
    if original is None:
        raise missing
    try:
        helper_for_staff(session, actor, original.helper_id)
    except NotFound as error:
        raise missing from error
    if original.kind == HoursKind.REVERSAL:
        raise BadInput(_("a reversal cannot be reversed"), "entry_id")
    reversal = _add_reversal(session, original, ledger_reason(reason), actor, now)
    detail = {"helper": reversal.helper_id, "minutes": reversal.minutes, "reverses": entry_id}
    audit(session, actor.user_id, "hours.reverse", "hours_entry", reversal.id, detail)
    session.commit()
    return _view(reversal, None)


def total_minutes(
    session: Session, helper_id: int, first: dt.date | None = None, last: dt.date | None = None
) -> int:
    """A helper's minutes: the sum of their entries (whose visit falls in ``first``..``last``)."""
    query = select(func.coalesce(func.sum(HoursEntry.minutes), 0)).where(
        HoursEntry.helper_id == helper_id
    )
    if first is not None:
        query = query.where(HoursEntry.served_on >= first)
    if last is not None:
        query = query.where(HoursEntry.served_on <= last)
    return int(session.scalar(query) or 0)


def history(
    session: Session, actor: Actor, helper_id: int, page: int = 1, page_size: int = 50
) -> HoursHistory:
    """A helper's total and entries, newest first: helpers read their own, staff their
    street's (or community's) helpers."""
    if actor.role == Role.HELPER:
        if actor.helper_id != helper_id:
            raise NotFound(_("helper %(helper_id)s not found", helper_id=helper_id))
    else:
        helper_for_staff(session, actor, helper_id)
    stmt = (
        select(HoursEntry).where(HoursEntry.helper_id == helper_id).order_by(HoursEntry.id.desc())
    )
    rows, total = fetch_page(session, stmt, page, page_size)
    reversed_by = dict(
        session.execute(
            select(HoursEntry.reverses_id, HoursEntry.id).where(
                HoursEntry.reverses_id.in_([row.id for row in rows])
            )
        ).all()
    )
    items = [_view(row, reversed_by.get(row.id)) for row in rows]
    return HoursHistory(helper_id, total_minutes(session, helper_id), items, total, page, page_size)


def _unreversed_visit(session: Session, order_id: int, helper_id: int) -> HoursEntry | None:
    reversed_ids = select(HoursEntry.reverses_id).where(HoursEntry.reverses_id.is_not(None))
    return session.scalar(
        select(HoursEntry)
        .where(
            HoursEntry.order_id == order_id,
            HoursEntry.helper_id == helper_id,
            HoursEntry.kind == HoursKind.VISIT,
            HoursEntry.id.not_in(reversed_ids),
        )
        .order_by(HoursEntry.id.desc())
    )


def _add_reversal(
    session: Session, original: HoursEntry, reason: str, actor: Actor, now: dt.datetime
) -> HoursEntry:
    reversal = HoursEntry(
        helper_id=original.helper_id,
        order_id=original.order_id,
        served_on=original.served_on,
        minutes=-original.minutes,
        kind=HoursKind.REVERSAL,
        source=original.source,
        reverses_id=original.id,
        reason=reason,
        created_by=actor.user_id,
        created_at=now,
    )
    try:
        with session.begin_nested():  # reverses_id is unique: one reversal per entry
            session.add(reversal)
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            _("hours entry %(entry_id)s was reversed already", entry_id=original.id)
        ) from error
    totals.add_hours(session, [reversal.id])
    return reversal


def _entry(
    helper_id: int,
    order: OrderRow,
    minutes: int,
    kind: str,
    source: str,
    reverses_id: int | None,
    reason: str,
    actor: Actor,
    now: dt.datetime,
) -> HoursEntry:
    return HoursEntry(
        helper_id=helper_id,
        order_id=order.id,
        served_on=order.date,
        minutes=minutes,
        kind=kind,
        source=source,
        reverses_id=reverses_id,
        reason=reason,
        created_by=actor.user_id,
        created_at=now,
    )


def _view(entry: HoursEntry, reversed_by: int | None) -> HoursEntryView:
    return HoursEntryView(
        id=entry.id,
        helper_id=entry.helper_id,
        order_id=entry.order_id,
        served_on=entry.served_on,
        minutes=entry.minutes,
        kind=entry.kind,
        source=entry.source,
        reverses_id=entry.reverses_id,
        reversed_by=reversed_by,
        reason=entry.reason,
        created_at=entry.created_at,
    )
