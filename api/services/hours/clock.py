"""Check-in and check-out at a visit (签到/签退): an accepted member of a visit's team clocks
in and out on the visit's day from their phone; the time is the server's, and a position is
kept only when the phone offered one and the helper agreed (the page sends none otherwise).
Staff correct the times of a visit in their scope (audited with the times before and after);
on a visit already confirmed the hours ledger then gets a reversal and the new minutes."""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import i18n
from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.hours.ledger import MAX_VISIT_MINUTES, clocked_minutes, recredit
from api.services.offers.assign import live_assignment, local_today, to_local, to_utc
from api.services.orders import scoped_order
from api.services.types import UtcDateTime
from api.settings import Settings
from api.store.db import begin_write
from api.store.statuses import AssignmentStatus, OfferStatus, Role
from api.store.tables import AssignmentRow, HelperRow, OfferRow, VisitClockRow, utcnow

log = logging.getLogger("qunbang.hours")
MAX_ACCURACY_M = 100_000.0
# Clocking is open while the visit is being done; after staff confirm, only they correct it.
CLOCK_STATUSES = (AssignmentStatus.ACTIVE, AssignmentStatus.DONE)


@dataclass(frozen=True)
class Position:
    """Where the phone said it was (WGS 84 degrees) and how sure it was (metres)."""

    lat: float
    lon: float
    accuracy_m: float | None = None

    def checked(self) -> Position:
        values = (self.lat, self.lon, self.accuracy_m or 0.0)
        if not all(math.isfinite(v) for v in values):
            raise BadInput(_("the position is not a number"), "position")
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise BadInput(_("the position is outside the earth's range"), "position")
        if self.accuracy_m is not None and not 0 <= self.accuracy_m <= MAX_ACCURACY_M:
            raise BadInput(_("the position's accuracy is out of range"), "position")
        return self


@dataclass(frozen=True)
class ClockView:
    """A member's check-in and check-out at one visit."""

    assignment_id: int
    order_id: int
    helper_id: int
    helper_name: str
    in_at: UtcDateTime | None
    out_at: UtcDateTime | None
    in_located: bool
    out_located: bool
    minutes: int | None  # between check-in and check-out (None unless both)
    corrected: bool


def check_in(
    session: Session,
    settings: Settings,
    actor: Actor,
    assignment_id: int,
    position: Position | None = None,
    now: dt.datetime | None = None,
) -> ClockView:
    """The calling helper checks in at their visit: an accepted member, on the visit's day
    (street time), once."""
    now = now or utcnow()
    begin_write(session)
    assignment = _own_visit(session, settings, actor, assignment_id, now)
    clock = _clock_of(session, assignment, actor.own_helper_id())
    if clock.in_at is not None:
        when = to_local(settings, clock.in_at)
        raise Conflict(_("you checked in already at %(time)s", time=f"{when:%H:%M}"))
    clock.in_at = now
    if position is not None:
        where = position.checked()
        clock.in_lat, clock.in_lon, clock.in_accuracy_m = where.lat, where.lon, where.accuracy_m
    session.commit()
    log.info("helper %s checked in at assignment %s", clock.helper_id, assignment.id)
    return _view(clock, "")


def check_out(
    session: Session,
    settings: Settings,
    actor: Actor,
    assignment_id: int,
    position: Position | None = None,
    now: dt.datetime | None = None,
) -> ClockView:
    """The calling helper checks out of their visit, after checking in, once."""
    now = now or utcnow()
    begin_write(session)
    assignment = _own_visit(session, settings, actor, assignment_id, now, leaving=True)
    clock = _find_clock(session, assignment.id, actor.own_helper_id())
    if clock is None or clock.in_at is None:
        raise Conflict(_("check in first"))
    if clock.out_at is not None:
        when = to_local(settings, clock.out_at)
        raise Conflict(_("you checked out already at %(time)s", time=f"{when:%H:%M}"))
    clock.out_at = now
    if position is not None:
        where = position.checked()
        clock.out_lat, clock.out_lon, clock.out_accuracy_m = where.lat, where.lon, where.accuracy_m
    session.commit()
    return _view(clock, "")


def my_clocks(session: Session, actor: Actor, assignment_ids: list[int]) -> dict[int, ClockView]:
    """The calling helper's clocks at these visits, by assignment id."""
    if not assignment_ids or actor.helper_id is None:
        return {}
    rows = session.scalars(
        select(VisitClockRow).where(
            VisitClockRow.helper_id == actor.helper_id,
            VisitClockRow.assignment_id.in_(assignment_ids),
        )
    )
    return {row.assignment_id: _view(row, "") for row in rows}


def order_clocks(session: Session, actor: Actor, order_id: int) -> list[ClockView]:
    """Each accepted member of the order's live visit with their clock (staff, in scope)."""
    order = scoped_order(session, actor, order_id)
    assignment = live_assignment(session, order.id)
    if assignment is None:
        return []
    members = [o.helper_id for o in assignment.offers if o.status == OfferStatus.ACCEPTED]
    names = dict(
        session.execute(select(HelperRow.id, HelperRow.name).where(HelperRow.id.in_(members)))
        .tuples()
        .all()
    )
    clocks = {
        c.helper_id: c
        for c in session.scalars(
            select(VisitClockRow).where(VisitClockRow.assignment_id == assignment.id)
        )
    }
    views = []
    for helper_id in sorted(members):
        clock = clocks.get(helper_id)
        if clock is None:
            clock = VisitClockRow(assignment_id=assignment.id, order_id=order.id,
                                  helper_id=helper_id)  # fmt: skip
        views.append(_view(clock, names.get(helper_id, "")))
    return views


def correct_clock(
    session: Session,
    settings: Settings,
    actor: Actor,
    order_id: int,
    helper_id: int,
    in_minute: int | None,
    out_minute: int | None,
    reason: str,
    now: dt.datetime | None = None,
) -> ClockView:
    """Staff set a member's check-in and check-out at the order's visit (minutes after
    midnight of the visit's day, street time; None clears one), with a reason; audited with the
    times before and after. On a confirmed visit the hours ledger follows (reversal, then the
    new minutes)."""
    now = now or utcnow()
    if actor.role != Role.STAFF:
        raise Forbidden(_("only staff correct a check-in"))
    reason = (reason or "").strip()
    if not reason:
        raise BadInput(_("a reason is required"), "reason")
    for minute, field in ((in_minute, "in"), (out_minute, "out")):
        if minute is not None and not 0 <= minute <= MAX_VISIT_MINUTES + 12 * 60:
            raise BadInput(_("a time is HH:MM: %(raw)s", raw=repr(minute)), field)
    if in_minute is None and out_minute is not None:
        raise BadInput(_("a check-out needs a check-in"), "in")
    if in_minute is not None and out_minute is not None and out_minute <= in_minute:
        raise BadInput(_("the check-out comes after the check-in"), "out")
    begin_write(session)
    order = scoped_order(session, actor, order_id)
    assignment = live_assignment(session, order.id)
    members = [] if assignment is None else [
        o.helper_id for o in assignment.offers if o.status == OfferStatus.ACCEPTED
    ]  # fmt: skip
    if assignment is None or helper_id not in members:
        raise NotFound(_("helper %(helper_id)s not found", helper_id=helper_id), "helper_id")
    clock = _clock_of(session, assignment, helper_id)
    before = {"in": _iso(clock.in_at), "out": _iso(clock.out_at)}
    clock.in_at = None if in_minute is None else to_utc(settings, order.date, in_minute)
    clock.out_at = None if out_minute is None else to_utc(settings, order.date, out_minute)
    clock.corrected_by, clock.corrected_at = actor.user_id, now
    session.flush()
    entry = None
    if assignment.status == AssignmentStatus.CONFIRMED:
        entry = recredit(session, actor, order, assignment, helper_id, reason, now)
    after = {"in": _iso(clock.in_at), "out": _iso(clock.out_at)}
    detail = {"helper": helper_id, "before": before, "after": after, "reason": reason,
              "hours_entry": entry.id if entry else None}  # fmt: skip
    audit(session, actor.user_id, "clock.correct", "order", order.id, detail)
    session.commit()
    return _view(clock, "")


def _own_visit(
    session: Session,
    settings: Settings,
    actor: Actor,
    assignment_id: int,
    now: dt.datetime,
    *,
    leaving: bool = False,
) -> AssignmentRow:
    """The assignment if the calling helper is an accepted member of it, it is still being done
    and it is the visit's day (checking out: or the day after, for a visit past midnight)."""
    helper_id = actor.own_helper_id()
    assignment = session.get(AssignmentRow, assignment_id)
    missing = NotFound(_("visit %(id)s not found", id=assignment_id))
    if assignment is None:
        raise missing
    accepted = session.scalar(
        select(OfferRow.id).where(
            OfferRow.assignment_id == assignment.id,
            OfferRow.helper_id == helper_id,
            OfferRow.status == OfferStatus.ACCEPTED,
        )
    )
    if accepted is None:
        raise missing
    if assignment.status not in CLOCK_STATUSES:
        raise Conflict(_("this visit was confirmed: staff correct its times"))
    today, day = local_today(settings, now), assignment.order.date
    if today < day or today > day + dt.timedelta(days=1 if leaving else 0):
        raise Conflict(_("you can check in on the day of the visit (%(day)s)",
                         day=i18n.format_day(day, "long")), "date")  # fmt: skip
    return assignment


def _find_clock(session: Session, assignment_id: int, helper_id: int) -> VisitClockRow | None:
    return session.scalar(
        select(VisitClockRow).where(
            VisitClockRow.assignment_id == assignment_id, VisitClockRow.helper_id == helper_id
        )
    )


def _clock_of(session: Session, assignment: AssignmentRow, helper_id: int) -> VisitClockRow:
    """The member's clock at the visit, made (empty) if they have none yet."""
    found = _find_clock(session, assignment.id, helper_id)
    if found is not None:
        return found
    clock = VisitClockRow(
        assignment_id=assignment.id, order_id=assignment.order_id, helper_id=helper_id
    )
    try:
        with session.begin_nested():  # one clock per member and visit (unique)
            session.add(clock)
            session.flush()
    except IntegrityError:  # made at the same moment by another request: that one
        made = _find_clock(session, assignment.id, helper_id)
        assert made is not None
        return made
    return clock


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _view(clock: VisitClockRow, name: str) -> ClockView:
    return ClockView(
        assignment_id=clock.assignment_id,
        order_id=clock.order_id,
        helper_id=clock.helper_id,
        helper_name=name,
        in_at=clock.in_at,
        out_at=clock.out_at,
        in_located=clock.in_lat is not None,
        out_located=clock.out_lat is not None,
        minutes=clocked_minutes(clock),
        corrected=clock.corrected_at is not None,
    )
