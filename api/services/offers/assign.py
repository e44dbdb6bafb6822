"""The primitives of the loop that every path shares (nightly run, re-match, claims, manual
reassignment): give an order to a team, withdraw it, and keep the order's status in step.

An order has at most one live assignment (a partial unique index); its members each hold an offer.
The order's status follows from them: ``open`` without a live assignment, ``offered`` while any
member is pending or a place is unfilled, ``assigned`` when the whole team accepted, then ``done``
and ``confirmed`` as the assignment moves on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Update, and_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload, selectinload

from api.i18n import N_, format_day, pick, use_locale
from api.i18n import gettext as _
from api.services.errors import Conflict
from api.services.ledger.street_catalogue import StreetItem, street_catalogue
from api.services.messages.notify import enqueue
from api.services.messages.results import tell_requesters
from api.settings import Settings
from api.store.db import among_bound, dialect_of
from api.store.stamps import CATALOGUE
from api.store.statuses import (
    UNMATCHED_ORDER_STATUSES,
    AssignmentStatus,
    NotificationKind,
    OfferStatus,
    OrderStatus,
)
from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    AssignmentRow,
    CacheStamp,
    OfferRow,
    OrderRow,
    utcnow,
)


@dataclass(frozen=True)
class Visit:
    """What an offer's deadline and its message use of the order (an ``OrderRow`` has them
    too): a writer holding no row objects passes this instead."""

    id: int
    street_id: int
    item: str
    date: dt.date
    window_start: int | None


def to_utc(settings: Settings, date: dt.date, minute: int) -> dt.datetime:
    """Naive UTC of a local street date and minute after midnight."""
    local = dt.datetime.combine(date, dt.time()) + dt.timedelta(minutes=minute)
    aware = local.replace(tzinfo=ZoneInfo(settings.timezone))
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def to_local(settings: Settings, value: dt.datetime) -> dt.datetime:
    """A stored (naive UTC) time as an aware street-local time."""
    return value.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(settings.timezone))


def local_today(settings: Settings, now: dt.datetime | None = None) -> dt.date:
    return to_local(settings, now or utcnow()).date()


def respond_by(
    settings: Settings,
    order: OrderRow | Visit,
    start_minute: int | None,
    now: dt.datetime | None = None,
) -> dt.datetime:
    """An offer's deadline: ``offer_response_hours`` from now, but an hour before the visit (the
    window's start, or 08:00 for an untimed order), and never less than 10 minutes from now."""
    now = now or utcnow()
    begins = start_minute if start_minute is not None else order.window_start
    visit = to_utc(settings, order.date, begins if begins is not None else 8 * 60)
    deadline = min(
        now + dt.timedelta(hours=settings.offer_response_hours), visit - dt.timedelta(hours=1)
    )
    return max(deadline, now + dt.timedelta(minutes=10))


_Row = TypeVar("_Row")


def item_of(session: Session, order: OrderRow | Visit) -> StreetItem:
    """The order's catalogue item as its street has it (``street_catalogue``: kept per process
    while the catalogue's stamp holds, so a run touching hundreds of orders reads it once)."""
    return street_catalogue(session, order.street_id).item(order.item)


def hold(session: Session, row: _Row) -> _Row:
    """Keep ``row`` in the session for its lifetime (the identity map keeps only rows someone
    holds): a later ``get`` of it then reads nothing until it expires. Holding the same row
    again keeps it once."""
    session.info.setdefault("held", {})[id(row)] = row
    return row


def team_size(session: Session, order: OrderRow) -> int:
    return item_of(session, order).team_size


def live_assignment(session: Session, order_id: int) -> AssignmentRow | None:
    """The order's live assignment with its offers (their helpers and the order load when
    first used: most callers only need the offers' statuses)."""
    return session.scalar(_live([order_id]))


def live_assignments(session: Session, order_ids: Iterable[int]) -> dict[int, AssignmentRow]:
    """``live_assignment`` of several orders in one statement (and one for their offers):
    order id -> its live assignment, for those that have one."""
    ids = sorted(set(order_ids))
    found: dict[int, AssignmentRow] = {}
    if ids:
        for assignment in session.scalars(_live(ids).order_by(AssignmentRow.id)):
            found.setdefault(assignment.order_id, assignment)
    return found


def _live(order_ids: list[int]) -> Select[AssignmentRow]:
    return (
        select(AssignmentRow)
        .where(
            AssignmentRow.order_id.in_(order_ids),
            AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
        )
        .options(
            lazyload(AssignmentRow.order),
            selectinload(AssignmentRow.offers).options(
                lazyload(OfferRow.helper), lazyload(OfferRow.assignment)
            ),
        )
    )


def live_offers(assignment: AssignmentRow) -> list[OfferRow]:
    return [o for o in assignment.offers if o.status in LIVE_OFFER_STATUSES]


def expected_order_status(
    current: str, assignment_status: str | None, accepted: int, size: int
) -> str:
    """The status an order should have (pure): ``current`` if cancelled, waiting for review or
    rejected (never matched), else from its live assignment's status (None: no live
    assignment), its accepted members and the team size."""
    if current in UNMATCHED_ORDER_STATUSES:
        return current
    if assignment_status is None:
        return OrderStatus.OPEN
    if assignment_status in (AssignmentStatus.DONE, AssignmentStatus.CONFIRMED):
        return assignment_status
    return OrderStatus.ASSIGNED if accepted >= size else OrderStatus.OFFERED


def refresh_order_status(
    session: Session, order: OrderRow, assignment: AssignmentRow | None = None
) -> str:
    """Set the order's status from its live assignment (cancelled orders stay cancelled);
    ``assignment``: that live assignment, when the caller holds it (not read again)."""
    if order.status in UNMATCHED_ORDER_STATUSES:
        return order.status
    if assignment is None or assignment.order_id != order.id:
        assignment = live_assignment(session, order.id)
    elif assignment.status not in LIVE_ASSIGNMENT_STATUSES:
        assignment = None
    accepted = size = 0
    if assignment is not None and assignment.status == AssignmentStatus.ACTIVE:
        accepted = sum(o.status == "accepted" for o in assignment.offers)
        size = team_size(session, order)
    status = expected_order_status(
        order.status, assignment.status if assignment else None, accepted, size
    )
    return _settle(order, status)


@dataclass(frozen=True)
class Settled:
    """An order's status after ``settle_order``, its live assignment's status (None: none) and
    that team: accepted and pending members, and the team's size."""

    status: str
    assignment_status: str | None
    accepted: int
    pending: int
    size: int


def settle_order(session: Session, order_id: int) -> Settled:
    """``refresh_order_status`` for a writer holding no loaded rows (an answer written as one
    compare-and-set): one read of the order, the catalogue's stamp and its live team's
    accepted and pending counts, and one write if the status changes (bumping the version, as
    ``_settle``)."""
    current, street_id, item, assignment_status, accepted, pending, stamp = session.execute(
        _settling(), {"order": order_id}
    ).one()
    size = street_catalogue(session, street_id, stamp).item(item).team_size
    active = assignment_status == AssignmentStatus.ACTIVE
    status = expected_order_status(
        current, assignment_status, accepted if active else 0, size if active else 0
    )
    if status != current:
        session.execute(settled(), {"order": order_id, "status": status})
    return Settled(status, assignment_status, accepted or 0, pending or 0, size)


@cache  # built once, run with each order's id
def _settling() -> Select[str, int, str, str | None, int, int, str | None]:
    def members(status: str):  # type: ignore[no-untyped-def]
        return (
            select(func.count(OfferRow.id))
            .where(OfferRow.assignment_id == AssignmentRow.id, OfferRow.status == status)
            .correlate(AssignmentRow)
            .scalar_subquery()
        )

    stamp = select(CacheStamp.stamp).where(CacheStamp.name == CATALOGUE).scalar_subquery()
    return (
        select(
            OrderRow.status,
            OrderRow.street_id,
            OrderRow.item,
            AssignmentRow.status,
            members(OfferStatus.ACCEPTED),
            members(OfferStatus.PENDING),
            stamp,
        )
        .outerjoin(
            AssignmentRow,
            and_(
                AssignmentRow.order_id == OrderRow.id,
                AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
            ),
        )
        .where(OrderRow.id == bindparam("order"))
    )


@cache
def settled() -> Update:
    """Give order ``:order`` status ``:status``, bumping its version (as ``_settle``)."""
    return (
        update(OrderRow)
        .where(OrderRow.id == bindparam("order"))
        .values(status=bindparam("status"), version=OrderRow.version + 1)
        .execution_options(synchronize_session=False)
    )


def _settle(order: OrderRow, status: str) -> str:
    """Give the order ``status``; a change bumps its version (what lock-free plans compare)."""
    if status != order.status:
        order.status = status
        order.version += 1
    return status


def create_assignment(
    session: Session,
    settings: Settings,
    order: OrderRow,
    helper_ids: Iterable[int],
    *,
    source: str,
    start_minute: int | None,
    accepted: Iterable[int] = (),
    run_id: int | None = None,
    claim_id: int | None = None,
    distances: dict[int, float] | None = None,
    now: dt.datetime | None = None,
) -> AssignmentRow:
    """Give ``order`` to a team: one offer per member, ``accepted`` ones already accepted, the
    others pending with a deadline and a notification. Raises ``Conflict`` if the order already
    has a live assignment (someone else was faster). The caller commits."""
    now = now or utcnow()
    accepted = set(accepted)
    assignment = AssignmentRow(
        order_id=order.id,
        run_id=run_id,
        claim_id=claim_id,
        source=source,
        start_minute=start_minute,
    )
    try:
        with session.begin_nested():
            session.add(assignment)
            session.flush()
    except IntegrityError as error:
        raise Conflict(_("order %(id)s was just taken by someone else", id=order.id)) from error
    deadline = respond_by(settings, order, start_minute, now)
    offers = [
        OfferRow(
            assignment_id=assignment.id,
            helper_id=helper_id,
            status="accepted" if helper_id in accepted else "pending",
            offered_at=now,
            respond_by=deadline,
            responded_at=now if helper_id in accepted else None,
            distance_km=(distances or {}).get(helper_id),
        )
        for helper_id in dict.fromkeys(helper_ids)
    ]
    session.add_all(offers)
    session.flush()
    for offer in offers:
        if offer.status == "pending":
            notify_offer(session, offer, order, "offer")
    session.expire(assignment, ["offers"])  # read again when next used
    taken = sum(o.status == "accepted" for o in offers)
    if taken:  # a claim: its claimer accepted, the requester is told (once per order)
        tell_requesters(session, order, NotificationKind.MATCHED)
    size = team_size(session, order)  # the team just made is the order's live assignment:
    _settle(order, expected_order_status(order.status, assignment.status, taken, size))
    return assignment


def add_offer(
    session: Session,
    settings: Settings,
    assignment: AssignmentRow,
    helper_id: int,
    *,
    distance_km: float | None = None,
    now: dt.datetime | None = None,
) -> OfferRow:
    """A new pending offer for a replacement member of a live assignment."""
    now = now or utcnow()
    order = assignment.order
    offer = OfferRow(
        assignment_id=assignment.id,
        helper_id=helper_id,
        offered_at=now,
        respond_by=respond_by(settings, order, assignment.start_minute, now),
        distance_km=distance_km,
    )
    session.add(offer)
    session.flush()
    notify_offer(session, offer, order, "offer")
    session.expire(assignment, ["offers"])  # the new member shows on the next read
    return offer


def withdraw_assignment(
    session: Session,
    assignment: AssignmentRow,
    kind: str = "cancellation",
    now: dt.datetime | None = None,
) -> None:
    """End a live assignment: its pending and accepted offers are withdrawn and their holders
    told (``kind``: cancellation or change). The caller refreshes the order and commits."""
    now = now or utcnow()
    assignment.status = "withdrawn"
    assignment.ended_at = now
    for offer in live_offers(assignment):
        withdraw_offer(session, offer, assignment.order, kind, now)


def withdraw_offer(
    session: Session, offer: OfferRow, order: OrderRow, kind: str, now: dt.datetime
) -> None:
    """Withdraw one member's offer and tell them (``kind``: cancellation or change). The caller
    ends an emptied team (or re-matches it), refreshes the order and commits."""
    offer.status = OfferStatus.WITHDRAWN
    offer.responded_at = offer.responded_at or now
    notify_offer(session, offer, order, kind)


# What a helper is told about an offer, by kind (message ids; rendered in each language).
NOTICES: dict[str, str] = {
    NotificationKind.OFFER: N_("New request: %(item)s, %(when)s. Please reply."),
    NotificationKind.REMINDER: N_("Reminder: the request %(item)s (%(when)s) expires soon."),
    NotificationKind.CHANGE: N_("Change: the plan for %(item)s (%(when)s) has changed."),
    NotificationKind.CANCELLATION: N_("Cancelled: %(item)s (%(when)s) no longer needs you."),
}


def notify_offer(session: Session, offer: OfferRow, order: OrderRow | Visit, kind: str) -> None:
    """Queue the message for an offer event: offer, reminder, change or cancellation (its text
    in each language, from the catalogs)."""
    text_zh, text_en = offer_notice(session, order, kind)
    enqueue(
        session,
        helper_id=offer.helper_id,
        kind=kind,
        text_zh=text_zh,
        text_en=text_en,
        payload={"offer": offer.id, "order": order.id, "date": order.date.isoformat()},
        dedupe_key=f"reminder:offer:{offer.id}" if kind == "reminder" else None,
    )


def offer_notice(session: Session, order: OrderRow | Visit, kind: str) -> tuple[str, str]:
    """The texts (zh-CN, English) of the message ``notify_offer`` queues about ``order``."""
    item = item_of(session, order)
    text_zh, text_en = (_notice(locale, kind, item, order) for locale in ("zh_CN", "en"))
    return text_zh, text_en


def _notice(locale: str, kind: str, item: StreetItem, order: OrderRow | Visit) -> str:
    """The notice of ``kind`` about ``order`` in ``locale``: the item's name and the day (and
    the start of its window, if it has one) as that language writes them."""
    with use_locale(locale):
        when = format_day(order.date)
        if order.window_start is not None:
            start = order.window_start
            when = _("%(day)s at %(time)s", day=when, time=f"{start // 60:02d}:{start % 60:02d}")
        return _(NOTICES[kind], item=pick(item.name_zh, item.name_en), when=when)


def helpers_day(
    session: Session, helper_ids: Iterable[int], dates: Iterable[dt.date]
) -> tuple[tuple[int, str], ...]:
    """The helpers' live offers (id, status) on those dates: what is left of their day, as a
    plan made with no lock held rests on it (re-match and claims compare it under the lock)."""
    rows = session.execute(
        _helpers_day(dialect_of(session)), {"helpers": list(helper_ids), "dates": list(dates)}
    ).all()
    return tuple((offer_id, status) for offer_id, status in rows)


@cache
def _helpers_day(dialect: str) -> Select[int, str]:
    return (
        select(OfferRow.id, OfferRow.status)
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .where(
            among_bound(OfferRow.helper_id, "helpers", dialect),
            among_bound(OrderRow.date, "dates", dialect),
            OfferRow.status.in_(LIVE_OFFER_STATUSES),
            AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
        )
        .order_by(OfferRow.id)
    )
