"""A helper's offers: list, read, accept, decline, mark done; and the clock: expiry, reminders.

Privacy: before accepting, a helper sees the service item, date and time, the community and the
distance — never the resident's name, address, phone or category, nor the order's note. Once
their offer is accepted and the team is live, they see name, address, phone and the note for
that order only.

Any decline or expiry sends the order straight back to matching (``rematch``) once the answer is
committed, with the members still on the team pinned; the re-match solves with no lock held.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from sqlalchemy import Select, Update, and_, bindparam, case, func, select, update
from sqlalchemy.orm import Session, aliased, joinedload, lazyload

from api.i18n import N_
from api.i18n import gettext as _
from api.services.circles.totals import refresh_orders
from api.services.closing.visits import require_visit_day
from api.services.errors import BadInput, Conflict, NotFound
from api.services.ledger.street_catalogue import street_catalogue
from api.services.matching.plan import Stale
from api.services.messages.results import tell_matched
from api.services.offers.assign import (
    local_today,
    notify_offer,
    refresh_order_status,
    settle_order,
)
from api.services.offers.rematch import (
    Applied,
    RematchPlan,
    apply_rematch,
    plan_rematch,
    rematch_or_release,
)
from api.services.paging import Page
from api.services.types import UtcDateTime
from api.settings import Settings
from api.store.db import begin_write
from api.store.stamps import CATALOGUE
from api.store.statuses import AssignmentStatus, OfferStatus
from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    AssignmentRow,
    CacheStamp,
    Community,
    ItemRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    utcnow,
)

log = logging.getLogger("qunbang.offers")
STATUS_FILTERS = {
    "live": LIVE_OFFER_STATUSES,
    "pending": ("pending",),
    "accepted": ("accepted",),
    "declined": ("declined",),
    "expired": ("expired",),
    "withdrawn": ("withdrawn",),
    "all": ("pending", "accepted", "declined", "expired", "withdrawn"),
}


@dataclass(frozen=True)
class Contact:
    """The resident's details, shown to a member who accepted, while the team is live."""

    name: str
    address: str
    phone: str


@dataclass(frozen=True)
class Team:
    size: int
    accepted: int
    pending: int


@dataclass(frozen=True)
class OfferView:
    id: int
    status: str
    assignment_id: int
    assignment_status: str
    order_id: int
    order_status: str
    item: str
    item_name_zh: str
    item_name_en: str
    date: dt.date
    start_minute: int | None
    window_start: int | None
    window_end: int | None
    duration_min: int
    community: str
    distance_km: float | None
    offered_at: UtcDateTime
    respond_by: UtcDateTime
    responded_at: UtcDateTime | None
    team: Team
    resident: Contact | None
    # The order's note (备注), which may hold private details: shown with the contact only.
    note: str | None


@dataclass(frozen=True)
class DeclinedView(OfferView):
    """The declined offer, and how many helpers the re-match asked in the meantime."""

    replacement_offers: int = 0


# ----------------------------------------------------------------------------- reading


@cache  # statements are immutable; building this one costs more than running it
def _view_query() -> Select[*tuple[Any, ...]]:
    """One row per offer with everything its view shows: one query, no per-row lookups."""
    other = aliased(OfferRow)

    def members(status: str):  # type: ignore[no-untyped-def]
        return (
            select(func.count(other.id))
            .where(other.assignment_id == AssignmentRow.id, other.status == status)
            .correlate(AssignmentRow)
            .scalar_subquery()
        )

    return (
        select(
            OfferRow.id,
            OfferRow.status,
            OfferRow.distance_km,
            OfferRow.offered_at,
            OfferRow.respond_by,
            OfferRow.responded_at,
            AssignmentRow.id.label("assignment_id"),
            AssignmentRow.status.label("assignment_status"),
            AssignmentRow.start_minute,
            OrderRow.id.label("order_id"),
            OrderRow.status.label("order_status"),
            OrderRow.date,
            OrderRow.window_start,
            OrderRow.window_end,
            OrderRow.note,
            ItemRow.code.label("item"),
            ItemRow.name_zh,
            ItemRow.name_en,
            OrderRow.street_id,
            Community.name.label("community"),
            ResidentRow.name.label("resident_name"),
            ResidentRow.address.label("resident_address"),
            ResidentRow.phone.label("resident_phone"),
            members("accepted").label("accepted"),
            members("pending").label("pending"),
            select(CacheStamp.stamp)
            .where(CacheStamp.name == CATALOGUE)
            .scalar_subquery()
            .label("catalogue_stamp"),
        )
        .select_from(OfferRow)
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .join(ItemRow, OrderRow.item == ItemRow.code)
        .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
        .join(Community, ResidentRow.community_id == Community.id)
    )


@cache
def _one_view() -> Select[*tuple[Any, ...]]:
    return _view_query().where(
        OfferRow.id == bindparam("offer"), OfferRow.helper_id == bindparam("helper")
    )


def _view(session: Session, row: object) -> OfferView:
    r = row._mapping  # type: ignore[attr-defined]
    # The item as the street has it (its catalogue kept while the stamp read with the row holds).
    item = street_catalogue(session, r["street_id"], r["catalogue_stamp"]).item(r["item"])
    revealed = r["status"] == "accepted" and r["assignment_status"] in LIVE_ASSIGNMENT_STATUSES
    contact = (
        Contact(r["resident_name"], r["resident_address"], r["resident_phone"])
        if revealed
        else None
    )
    return OfferView(
        id=r["id"],
        status=r["status"],
        assignment_id=r["assignment_id"],
        assignment_status=r["assignment_status"],
        order_id=r["order_id"],
        order_status=r["order_status"],
        item=r["item"],
        item_name_zh=r["name_zh"],
        item_name_en=r["name_en"],
        date=r["date"],
        start_minute=r["start_minute"],
        window_start=r["window_start"],
        window_end=r["window_end"],
        duration_min=item.duration_min,
        community=r["community"],
        distance_km=r["distance_km"],
        offered_at=r["offered_at"],
        respond_by=r["respond_by"],
        responded_at=r["responded_at"],
        team=Team(item.team_size, r["accepted"], r["pending"]),
        resident=contact,
        note=r["note"] if revealed else None,
    )


def my_offers(
    session: Session,
    settings: Settings,
    helper_id: int,
    *,
    status: str = "live",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    page: int = 1,
    page_size: int = 50,
    now: dt.datetime | None = None,
) -> Page[OfferView]:
    """The helper's offers and assignments (default: pending and accepted), upcoming first."""
    if status not in STATUS_FILTERS:
        raise BadInput(_("unknown status %(status)s", status=repr(status)), "status")
    conditions = [OfferRow.helper_id == helper_id, OfferRow.status.in_(STATUS_FILTERS[status])]
    if date_from is not None:
        conditions.append(OrderRow.date >= date_from)
    if date_to is not None:
        conditions.append(OrderRow.date <= date_to)
    today = local_today(settings, now)
    past = OrderRow.date < today
    rows = session.execute(
        _view_query()
        .where(and_(*conditions))
        .order_by(
            case((past, 1), else_=0),  # upcoming first, soonest first; then the past, latest first
            case((past, None), else_=OrderRow.date),
            OrderRow.date.desc(),
            func.coalesce(AssignmentRow.start_minute, OrderRow.window_start, 0),
            OfferRow.id,
        )
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    total = len(rows) + (page - 1) * page_size
    if len(rows) == page_size or (page > 1 and not rows):  # the page alone can't tell the total
        counted = session.scalar(
            select(func.count(OfferRow.id))
            .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
            .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
            .where(and_(*conditions))
        )
        total = counted or 0
    return Page([_view(session, r) for r in rows], total, page, page_size)


def get_offer(session: Session, helper_id: int, offer_id: int) -> OfferView:
    """One of the helper's own offers; anyone else's is ``NotFound`` (never a hint it exists)."""
    row = session.execute(_one_view(), {"offer": offer_id, "helper": helper_id}).first()
    if row is None:
        raise _no_such(offer_id)
    return _view(session, row)


def _no_such(offer_id: int) -> NotFound:
    """An offer that is not the helper's, as if it did not exist (never a hint it does)."""
    return NotFound(_("offer %(offer_id)s not found", offer_id=offer_id))


def _own(session: Session, helper_id: int, offer_id: int) -> OfferRow:
    offer = session.scalar(_own_query(), {"offer": offer_id, "helper": helper_id})
    if offer is None:
        raise _no_such(offer_id)
    return offer


@cache  # the hot statements are built once; each run binds its values
def _own_query() -> Select[OfferRow]:
    return (
        select(OfferRow)
        .where(OfferRow.id == bindparam("offer"), OfferRow.helper_id == bindparam("helper"))
        .options(  # answering needs the offer and its assignment; the rest loads if used
            joinedload(OfferRow.assignment).options(
                lazyload(AssignmentRow.order), lazyload(AssignmentRow.offers)
            ),
            lazyload(OfferRow.helper),
        )
    )


# ----------------------------------------------------------------------------- answering


def accept(
    session: Session,
    settings: Settings,
    helper_id: int,
    offer_id: int,
    now: dt.datetime | None = None,
) -> OfferView:
    """Accept a pending offer before its deadline. Accepting twice is harmless; accepting an
    answered, withdrawn or overdue offer is a ``Conflict``.

    The common case is a compare-and-set of the offer and the order's status settled, in one
    short transaction with no row objects loaded; the offer as it then stands is the view read
    before the write with what changed (the team counted again under the lock). Only a refused
    answer reads the offer to say why."""
    now = now or utcnow()
    seen = session.execute(_one_view(), {"offer": offer_id, "helper": helper_id}).first()
    if seen is None:
        session.rollback()
        raise _no_such(offer_id)
    before = _view(session, seen)
    begin_write(session, seen.street_id, before.order_id, after_read=True)
    moved = session.execute(_accepting(), {"offer": offer_id, "helper": helper_id, "now": now})
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        offer = _own(session, helper_id, offer_id)
        if offer.status != OfferStatus.ACCEPTED:
            if offer.status != OfferStatus.PENDING:
                raise Conflict(_answered(offer))
            if now > offer.respond_by:
                raise Conflict(_("the deadline to answer this offer has passed"))
            raise Conflict(_("the offer changed meanwhile; reload it"))
        view = get_offer(session, helper_id, offer_id)  # accepted before: nothing to write
        session.rollback()
        return view
    settled = settle_order(session, before.order_id)
    tell_matched(session, before.order_id)  # the first member to accept: the requester is told
    assignment_status = settled.assignment_status or before.assignment_status
    revealed = assignment_status in LIVE_ASSIGNMENT_STATUSES
    r = seen._mapping
    view = replace(
        before,
        status=OfferStatus.ACCEPTED,
        responded_at=now,
        order_status=settled.status,
        assignment_status=assignment_status,
        team=Team(settled.size, settled.accepted, settled.pending),
        resident=(
            Contact(r["resident_name"], r["resident_address"], r["resident_phone"])
            if revealed
            else None
        ),
        note=r["note"] if revealed else None,
    )
    session.commit()
    log.info("offer %s accepted by helper %s", offer_id, helper_id)
    return view


@cache
def _accepting() -> Update:
    """Accept the offer if it is the helper's, pending and not overdue (a compare-and-set)."""
    return (
        update(OfferRow)
        .where(
            OfferRow.id == bindparam("offer"),
            OfferRow.helper_id == bindparam("helper"),
            OfferRow.status == OfferStatus.PENDING,
            OfferRow.respond_by >= bindparam("now"),
        )
        .values(status=OfferStatus.ACCEPTED, responded_at=bindparam("now"))
        .execution_options(synchronize_session=False)
    )


def decline(
    session: Session,
    settings: Settings,
    helper_id: int,
    offer_id: int,
    reason: str = "",
    now: dt.datetime | None = None,
) -> DeclinedView:
    """Decline a pending offer (or step back from an accepted one before the visit is done);
    the order is re-matched at once. Declining twice is harmless.

    The re-match is solved first, with no lock held, as if the answer were written; the answer
    and the new offers are then written together in one short transaction if nothing the plan
    rests on moved. Otherwise (or if the visit day is over) the answer is written on its own and
    the order re-matched afresh, as after an expiry."""
    now = now or utcnow()
    seen = session.execute(_one_view(), {"offer": offer_id, "helper": helper_id}).first()
    if seen is None:
        session.rollback()
        raise _no_such(offer_id)
    before = _view(session, seen)  # the plan reads on in the same transaction
    answerable = (
        before.status in LIVE_OFFER_STATUSES and before.assignment_status == AssignmentStatus.ACTIVE
    )
    target = _Target(seen.street_id, before.order_id, before.date, answerable)
    plan = _plan_decline(session, settings, target, helper_id, offer_id, now)
    try:
        return _write_decline(
            session, settings, target, helper_id, offer_id, reason, now, plan, before
        )
    except Stale:
        session.rollback()
        return _write_decline(session, settings, target, helper_id, offer_id, reason, now)


@dataclass(frozen=True)
class _Target:
    """What an answer to an offer touches, read before its write: the street and order whose
    write locks it takes (``begin_write``), and whether a decline of it would call for a
    re-match."""

    street_id: int
    order_id: int
    date: dt.date
    answerable: bool = False


def _plan_decline(
    session: Session,
    settings: Settings,
    target: _Target,
    helper_id: int,
    offer_id: int,
    now: dt.datetime,
) -> RematchPlan | None:
    """The re-match a decline calls for, solved before the answer is written (reads only);
    None when there is none to plan ahead (nothing to decline, the visit day over, or a plan
    that cannot be made: the answer is then written alone and re-matched after)."""
    if not target.answerable or target.date < local_today(settings, now):
        return None
    try:  # the read transaction stays open: the write takes its locks in it (``after_read``)
        return plan_rematch(session, settings, target.order_id, now, leaving=(offer_id, helper_id))
    except Exception:
        session.rollback()
        log.exception("order %s: re-match planned ahead failed", target.order_id)
        return None


def _write_decline(
    session: Session,
    settings: Settings,
    target: _Target,
    helper_id: int,
    offer_id: int,
    reason: str,
    now: dt.datetime,
    plan: RematchPlan | None = None,
    before: OfferView | None = None,
) -> DeclinedView:
    """Write the answer, with ``plan``'s new offers in the same transaction (raises ``Stale``,
    nothing written, if the plan no longer holds); without a plan, commit the answer and then
    re-match. Returns the declined offer as it then stands, with the number of new offers.
    ``before``: the offer as read before the write; if it still stands so, the answer is one
    compare-and-set and the view is ``before`` with what the write changed (not read back)."""
    added = plan.added if plan else ()
    begin_write(session, target.street_id, target.order_id, added, after_read=True)
    reason = reason[:1000]
    fast = before is not None and _declined(session, before, helper_id, reason, now)
    if not fast:
        offer = _own(session, helper_id, offer_id)
        if offer.status == "declined":
            session.rollback()
            return DeclinedView(**vars(get_offer(session, helper_id, offer_id)))
        if offer.status not in LIVE_OFFER_STATUSES or offer.assignment.status != "active":
            raise Conflict(_answered(offer))
        if not _move(session, offer, offer.status, "declined", now, reason):
            raise Conflict(_("the offer changed meanwhile; reload it"))
    if plan is not None:
        try:
            applied = apply_rematch(session, settings, plan, now)
        except Stale:
            raise
        except Exception as error:  # the answer must still land: write it alone, re-match after
            log.exception("order %s: writing the planned re-match failed", plan.order_id)
            raise Stale from error
        if fast and before is not None:
            view = _declined_view(before, applied, now)
        else:
            view = get_offer(session, helper_id, offer_id)  # read in the write: one transaction
        session.commit()
        log.info("offer %s declined by helper %s", offer_id, helper_id)
        return DeclinedView(**vars(view), replacement_offers=len(added))
    order = session.get_one(OrderRow, target.order_id)  # the offer's order, read before
    refresh_order_status(session, order)
    session.commit()  # the answer stands on its own; the re-match solves with no lock held
    log.info("offer %s declined by helper %s", offer_id, helper_id)
    added_after = rematch_or_release(session, settings, order.id, order.date, now, "decline")
    view = get_offer(session, helper_id, offer_id)
    session.rollback()
    return DeclinedView(**vars(view), replacement_offers=added_after)


def _declined(
    session: Session, before: OfferView, helper_id: int, reason: str, now: dt.datetime
) -> bool:
    """Decline the offer as one compare-and-set, if it is still as ``before`` saw it (live, on
    an active team); False: it moved, or cannot be declined (the caller reads it to say why)."""
    if before.status not in LIVE_OFFER_STATUSES or before.assignment_status != "active":
        return False
    values = {"offer": before.id, "helper": helper_id, "old": before.status, "now": now}
    moved = session.execute(_declining(), {**values, "reason": reason})
    session.expire_all()  # rows a caller holds (the offer) are read again when next used
    return moved.rowcount == 1  # type: ignore[attr-defined,no-any-return]


@cache
def _declining() -> Update:
    """Decline the offer if it is the helper's, in the status read before, on an active team."""
    active = (
        select(AssignmentRow.id)
        .where(
            AssignmentRow.id == OfferRow.assignment_id,
            AssignmentRow.status == AssignmentStatus.ACTIVE,
        )
        .exists()
    )
    return (
        update(OfferRow)
        .where(
            OfferRow.id == bindparam("offer"),
            OfferRow.helper_id == bindparam("helper"),
            OfferRow.status == bindparam("old"),
            active,
        )
        .values(
            status=OfferStatus.DECLINED,
            responded_at=bindparam("now"),
            decline_reason=bindparam("reason"),
        )
        .execution_options(synchronize_session=False)
    )


def _declined_view(before: OfferView, applied: Applied, now: dt.datetime) -> OfferView:
    """The offer as a decline written with its re-match left it: ``before`` (read ahead) with
    the answer, the team and the order as the re-match wrote them."""
    return replace(
        before,
        status=OfferStatus.DECLINED,
        responded_at=now,
        order_status=applied.order_status,
        assignment_status=applied.assignment_status or AssignmentStatus.WITHDRAWN,
        start_minute=applied.start_minute,
        team=Team(applied.team_size, applied.accepted, applied.pending),
        resident=None,
        note=None,
    )


def _move(
    session: Session,
    offer: OfferRow,
    old: str,
    new: str,
    now: dt.datetime,
    reason: str | None = None,
) -> bool:
    """Compare-and-set an offer's status: of two answers at once, only one lands."""
    values = {"offer": offer.id, "old": old, "new": new, "now": now}
    if reason is not None:
        values["reason"] = reason
    moved = session.execute(_moving(reason is not None), values)
    session.expire_all()
    return moved.rowcount == 1  # type: ignore[attr-defined,no-any-return]


@cache
def _moving(with_reason: bool) -> Update:
    values: dict[str, Any] = {"status": bindparam("new"), "responded_at": bindparam("now")}
    if with_reason:
        values["decline_reason"] = bindparam("reason")
    return (
        update(OfferRow)
        .where(OfferRow.id == bindparam("offer"), OfferRow.status == bindparam("old"))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


ANSWERED = {
    "accepted": N_("this offer is already accepted"),
    "declined": N_("this offer is already declined"),
    "expired": N_("this offer is already expired"),
    "withdrawn": N_("this offer is already withdrawn"),
}
ANSWERED_OTHERWISE = N_("this offer is already answered")


def _answered(offer: OfferRow) -> str:
    return _(ANSWERED.get(offer.status, ANSWERED_OTHERWISE))


# ----------------------------------------------------------------------------- the clock


def expire_due(session: Session, settings: Settings, now: dt.datetime | None = None) -> int:
    """Expire pending offers past their deadline (one short write), then re-match each affected
    order (each solved with no lock held)."""
    now = now or utcnow()
    query = (
        select(OfferRow.id, AssignmentRow.order_id)
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .where(
            OfferRow.status == "pending",
            OfferRow.respond_by < now,
            AssignmentRow.status == "active",
        )
    )
    if session.execute(query.limit(1)).first() is None:
        session.commit()
        return 0  # the usual tick: nothing due, and no write lock taken
    begin_write(session)
    due = session.execute(query).all()
    session.execute(
        update(OfferRow)
        .where(OfferRow.id.in_([d.id for d in due]), OfferRow.status == "pending")
        .values(status="expired", responded_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    orders = [session.get_one(OrderRow, order_id) for order_id in sorted({d.order_id for d in due})]
    for order in orders:
        refresh_order_status(session, order)
    session.commit()
    log.info("%s offer(s) expired", len(due))
    for order in orders:
        rematch_or_release(session, settings, order.id, order.date, now, "expiry")
    return len(due)


def send_reminders(session: Session, settings: Settings, now: dt.datetime | None = None) -> int:
    """Queue one reminder per pending offer whose deadline is within
    ``reminder_before_minutes``. An offer made inside that stretch already is not reminded:
    the offer itself has just told the helper."""
    now = now or utcnow()
    if not _reminders_due(session, settings, now):
        session.commit()
        return 0
    begin_write(session)
    offers = _reminders_due(session, settings, now)
    for offer in offers:
        notify_offer(session, offer, offer.assignment.order, "reminder")
        offer.reminded_at = now
    session.commit()
    return len(offers)


def _reminders_due(session: Session, settings: Settings, now: dt.datetime) -> list[OfferRow]:
    ahead = dt.timedelta(minutes=settings.reminder_before_minutes)
    offers = session.scalars(
        select(OfferRow)
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .where(
            OfferRow.status == "pending",
            OfferRow.reminded_at.is_(None),
            OfferRow.respond_by > now,
            OfferRow.respond_by <= now + ahead,
            AssignmentRow.status == "active",
        )
    ).all()
    return [o for o in offers if o.offered_at < o.respond_by - ahead]  # no date maths in SQL


# ----------------------------------------------------------------------------- done


def mark_done(
    session: Session,
    settings: Settings,
    helper_id: int,
    assignment_id: int,
    now: dt.datetime | None = None,
) -> OfferView:
    """A member who accepted marks the visit done once the whole team accepted and the visit's
    day has come (street time); staff confirm it later (assignment ``done`` → ``confirmed``).
    Marking twice is harmless."""
    now = now or utcnow()
    begin_write(session)
    offer = session.scalar(
        select(OfferRow).where(
            OfferRow.assignment_id == assignment_id,
            OfferRow.helper_id == helper_id,
            OfferRow.status == "accepted",
        )
    )
    if offer is None:
        raise NotFound(_("assignment %(assignment_id)s not found", assignment_id=assignment_id))
    assignment = offer.assignment
    if assignment.status == "active":
        order = session.get_one(OrderRow, assignment.order_id)
        if refresh_order_status(session, order) != "assigned":
            raise Conflict(_("not every member of the team has accepted yet"))
        require_visit_day(settings, order.date, now, "done")
        moved = session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.id == assignment.id, AssignmentRow.status == "active")
            .values(status="done", done_at=now, done_by=helper_id)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(_("the assignment changed meanwhile; reload it"))
        session.expire_all()
        refresh_order_status(session, session.get_one(OrderRow, assignment.order_id))
        refresh_orders(session, [assignment.order_id])  # the team's circle totals: one more visit
        session.commit()
    elif assignment.status not in ("done", "confirmed"):
        raise Conflict(_("the assignment is %(status)s", status=assignment.status))
    return get_offer(session, helper_id, offer.id)
