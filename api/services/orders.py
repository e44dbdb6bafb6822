"""Orders (点单): placed by staff on a resident's behalf or by a resident account, one-off or
recurring (a series that produces dated occurrences), listed and read within the caller's scope.

Staff see the orders of their street, or of their community when scoped to one; a grid worker
those of their grid's residents; a resident account only its own, a family account those of the
resident it acts for. Anyone else gets ``NotFound``, so nothing outside the scope is revealed.

Where the street reviews orders (``streets.review_orders``, 社区下单), an order anyone but staff
enters waits in ``review`` for community staff (``api.services.intake.review``); staff orders
skip review.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from sqlalchemy import false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from api.i18n import N_
from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.closing.deadlines import is_overdue, overdue_where, owner_for, promise
from api.services.errors import BadInput, NotFound
from api.services.ledger.street_catalogue import StreetItem, street_catalogue
from api.services.offers.assign import live_assignment, live_assignments, local_today
from api.services.paging import AnySelect, Page, fetch_page
from api.services.types import UtcDateTime
from api.settings import Settings, get_settings
from api.store.db import begin_write
from api.store.statuses import CANCELLABLE_ORDER_STATUSES, OfferStatus, OrderStatus, Role
from api.store.tables import (
    AssignmentRow,
    FeedbackRow,
    OrderRow,
    OrderSeries,
    ResidentRow,
    Street,
    UserRow,
    utcnow,
)

log = logging.getLogger("qunbang.orders")
T = TypeVar("T")
MINUTES_PER_DAY = 1440
SERIES_HORIZON_DAYS = 7  # a new series shows its occurrences this many days ahead, today included


# ----------------------------------------------------------------------------- values in and out


@dataclass(frozen=True)
class OrderSpec:
    """A one-off order. ``resident_id`` may be left out by a resident account (itself)."""

    item: str
    date: dt.date
    resident_id: int | None = None
    window_start: int | None = None
    window_end: int | None = None
    flexible: bool = False
    priority: int = 1
    note: str = ""


@dataclass(frozen=True)
class SeriesSpec:
    """A recurring order: every listed weekday (0 = Monday … 6 = Sunday) from ``start_date``."""

    item: str
    weekdays: list[int]
    start_date: dt.date
    end_date: dt.date | None = None
    resident_id: int | None = None
    window_start: int | None = None
    window_end: int | None = None
    flexible: bool = False
    priority: int = 1
    note: str = ""


@dataclass(frozen=True)
class DateRange:
    """The first and last date, both included."""

    first: dt.date
    last: dt.date

    def __contains__(self, date: object) -> bool:
        return isinstance(date, dt.date) and self.first <= date <= self.last


@dataclass(frozen=True)
class OrderFilters:
    date: dt.date | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    status: str | None = None
    community_id: int | None = None
    item: str | None = None
    resident_id: int | None = None
    overdue: bool | None = None  # True: only overdue ones; False: none of them
    grid_id: int | None = None


@dataclass(frozen=True)
class OrderView:
    id: int
    date: dt.date
    window_start: int | None
    window_end: int | None
    flexible: bool
    priority: int
    status: str
    item: str
    item_name_zh: str
    item_name_en: str
    resident_id: int
    resident_name: str
    community_id: int
    series_id: int | None
    note: str
    placed_at: UtcDateTime
    version: int
    owner_id: int | None  # 首接负责: the staff member answerable for it (None: nobody yet)
    due_at: UtcDateTime | None  # 定时限: when its result is promised
    first_date: dt.date | None  # the date first asked for (``date`` moves on when it rolls over)
    overdue: bool  # past ``due_at`` with its result still owed
    placed_by: int | None = None  # who entered it (a requester's or staff's account)
    reject_reason: str = ""  # why review rejected it (the requester reads it)
    price_yuan: float | None = None  # a paid item's price as the street sets it


@dataclass(frozen=True)
class TeamMember:
    helper_id: int
    name: str
    offer_status: str
    respond_by: UtcDateTime
    responded_at: UtcDateTime | None


@dataclass(frozen=True)
class AssignmentView:
    id: int
    status: str
    source: str
    start_minute: int | None
    done_at: UtcDateTime | None
    confirmed_at: UtcDateTime | None
    team: list[TeamMember]


@dataclass(frozen=True)
class OrderDetail:
    order: OrderView
    assignment: AssignmentView | None
    feedback_score: int | None
    feedback_comment: str | None
    cancelled_at: UtcDateTime | None = None
    cancel_reason: str = ""
    entered_by: str = ""  # the account that entered it (display name), "" if unknown
    entered_role: str = ""  # that account's role
    reviewed_by: str = ""  # who approved or rejected it (review), "" if nobody
    reviewed_at: UtcDateTime | None = None


@dataclass(frozen=True)
class SeriesView:
    id: int
    resident_id: int
    item: str
    weekdays: list[int]
    window_start: int | None
    window_end: int | None
    flexible: bool
    priority: int
    start_date: dt.date
    end_date: dt.date | None
    note: str
    active: bool
    occurrences: int


# ----------------------------------------------------------------------------- scope


def may_see_resident(actor: Actor, resident: ResidentRow) -> bool:
    """Staff of the resident's street (or community); a grid worker of the resident's grid;
    the resident's own account, or a family account acting for them."""
    if actor.role in (Role.STAFF, Role.GRID_WORKER):
        return actor.may_see_person(resident.street_id, resident.community_id, resident.grid_id)
    return actor.speaks_for_resident and actor.resident_id == resident.id


def scoped_order(session: Session, actor: Actor, order_id: int) -> OrderRow:
    """The order if the caller may see it, else ``NotFound``."""
    order = session.get(OrderRow, order_id)
    if order is None or not may_see_resident(actor, order.resident):
        raise NotFound(_("order %(order_id)s not found", order_id=order_id))
    return order


def scoped_orders(session: Session, actor: Actor, order_ids: Iterable[int]) -> list[OrderRow]:
    """``scoped_order`` of each id (repeats dropped, in their order) in one statement with
    their residents; ``NotFound`` for the first the caller may not see."""
    ids = list(dict.fromkeys(order_ids))
    query = select(OrderRow).where(OrderRow.id.in_(ids)).options(selectinload(OrderRow.resident))
    rows = {order.id: order for order in session.scalars(query)} if ids else {}
    for order_id in ids:
        order = rows.get(order_id)
        if order is None or not may_see_resident(actor, order.resident):
            raise NotFound(_("order %(order_id)s not found", order_id=order_id))
    return [rows[order_id] for order_id in ids]


def scope_orders(stmt: AnySelect, actor: Actor) -> AnySelect:
    """Narrow a select over orders (joined to residents) to what the caller may see."""
    if actor.role in (Role.STAFF, Role.GRID_WORKER):
        return stmt.where(
            actor.person_scope(OrderRow.street_id, ResidentRow.community_id, ResidentRow.grid_id)
        )
    if actor.speaks_for_resident:
        return stmt.where(OrderRow.resident_id == actor.resident_id)
    return stmt.where(false())


# ----------------------------------------------------------------------------- checks


def _checked(
    session: Session, actor: Actor, spec: OrderSpec | SeriesSpec
) -> tuple[ResidentRow, StreetItem]:
    """The resident and the item of an order or series the caller asks for: a resident in the
    caller's scope (a resident account: itself), an active item, a valid window and priority."""
    resident = _resident_for(session, actor, spec.resident_id)
    item = _active_item(session, resident.street_id, spec.item)
    _check_window(item, spec.window_start, spec.window_end, spec.priority)
    return resident, item


def _resident_for(session: Session, actor: Actor, resident_id: int | None) -> ResidentRow:
    if actor.speaks_for_resident and resident_id is None:
        resident_id = actor.resident_id
    if resident_id is None:
        raise BadInput(_("resident_id is required"), "resident_id")
    resident = session.get(ResidentRow, resident_id)
    if resident is None or not may_see_resident(actor, resident):
        raise NotFound(_("resident %(resident_id)s not found", resident_id=resident_id))
    if not resident.active:
        raise BadInput(_("this resident is deactivated"), "resident_id")
    return resident


def _active_item(session: Session, street_id: int, code: str) -> StreetItem:
    """The item as the resident's street has it; refused when unknown or disabled there."""
    item = street_catalogue(session, street_id).items.get(code)
    if item is None:
        raise BadInput(_("unknown or inactive item %(code)s", code=repr(code)), "item")
    if not item.active:
        raise BadInput(
            _("%(code)s is not offered in this street (the office has disabled it)", code=code),
            "item",
        )
    return item


def _check_window(item: StreetItem, start: int | None, end: int | None, priority: int) -> None:
    """A window is both ends or neither, inside the day, and holds the item's whole visit."""
    if not 1 <= priority <= 5:
        raise BadInput(_("priority must be 1..5"), "priority")
    if start is None and end is None:
        return
    if start is None or end is None:
        field = "window_start" if start is None else "window_end"
        raise BadInput(_("give both window_start and window_end"), field)
    for field, minute in (("window_start", start), ("window_end", end)):
        if not 0 <= minute <= MINUTES_PER_DAY:
            raise BadInput(_("minutes must be 0..1440"), field)
    if end - start < item.duration_min:
        raise BadInput(
            _(
                "the window is shorter than the item's %(duration_min)s minutes",
                duration_min=item.duration_min,
            ),
            "window_end",
        )


DATE_FIELDS = {"date": N_("Date"), "start_date": N_("Start date"), "end_date": N_("End date")}


def horizon(session: Session, settings: Settings, street_id: int, now: dt.datetime) -> DateRange:
    """The dates orders may have in the street: today … today + ``order_horizon_days``
    (street-local)."""
    today = local_today(settings, now)
    days = session.get_one(Street, street_id).order_horizon_days
    return DateRange(today, today + dt.timedelta(days=days))


def _check_date(dates: DateRange, date: dt.date, field: str = "date") -> None:
    """A date inside the street's horizon, else ``BadInput`` naming ``field``."""
    label = _(DATE_FIELDS[field]) if field in DATE_FIELDS else field
    if date < dates.first:
        raise BadInput(
            _(
                "%(label)s %(date)s is in the past (today is %(today)s)",
                label=label,
                date=date.isoformat(),
                today=dates.first.isoformat(),
            ),
            field,
        )
    if date > dates.last:
        days = (dates.last - dates.first).days
        raise BadInput(
            _(
                "%(label)s %(date)s is too far ahead: the latest is %(last)s "
                "(%(days)s days from today)",
                label=label,
                date=date.isoformat(),
                last=dates.last.isoformat(),
                days=days,
            ),
            field,
        )


# ----------------------------------------------------------------------------- one-off orders


def place_order(
    session: Session,
    settings: Settings,
    actor: Actor,
    spec: OrderSpec,
    now: dt.datetime | None = None,
) -> OrderView:
    """Place a one-off order for a resident in the caller's scope (or the caller itself)."""
    now = now or utcnow()
    begin_write(session)
    resident, item = _checked(session, actor, spec)
    _check_date(horizon(session, settings, resident.street_id, now), spec.date)
    order = OrderRow(
        street_id=resident.street_id,
        resident_id=resident.id,
        item=item.code,
        date=spec.date,
        **_visit_terms(spec),
        status=intake_status(session, resident.street_id, actor.role),
        placed_by=actor.user_id,
        placed_at=now,
    )
    promise(session, settings, order, actor.user_id if actor.role == "staff" else None, now)
    session.add(order)
    session.flush()
    detail = _audit_detail(order) | {"status": order.status, "role": actor.role}
    audit(session, actor.user_id, "order.place", "order", order.id, detail)
    session.commit()
    log.info("order %s placed by user %s", order.id, actor.user_id)
    return order_view(session, order)


def intake_status(session: Session, street_id: int, role: str | None) -> OrderStatus:
    """The status an order entered by an account of ``role`` starts in: ``review`` where the
    street reviews orders and the account is not staff (社区下单), else ``open`` (matching)."""
    if role == Role.STAFF:
        return OrderStatus.OPEN
    reviews = session.scalar(select(Street.review_orders).where(Street.id == street_id))
    return OrderStatus.REVIEW if reviews else OrderStatus.OPEN


def _visit_terms(source: OrderSpec | SeriesSpec | OrderSeries) -> dict[str, Any]:
    """How the visit is wanted (window, flexibility, priority, note), as an order or a series
    carries it: a placed order or series takes the caller's, an occurrence its series'."""
    return {
        "window_start": source.window_start,
        "window_end": source.window_end,
        "flexible": source.flexible,
        "priority": source.priority,
        "note": source.note,
    }


def _audit_detail(order: OrderRow) -> dict[str, Any]:
    return {"resident": order.resident_id, "item": order.item, "date": order.date.isoformat()}


# ----------------------------------------------------------------------------- recurring orders


def place_series(
    session: Session,
    settings: Settings,
    actor: Actor,
    spec: SeriesSpec,
    now: dt.datetime | None = None,
) -> SeriesView:
    """Start a recurring order and create its occurrences for the next days at once."""
    now = now or utcnow()
    begin_write(session)
    resident, item = _checked(session, actor, spec)
    weekdays = sorted(set(spec.weekdays))
    if not weekdays or any(not 0 <= day <= 6 for day in weekdays):
        raise BadInput(_("weekdays must be 0 (Mon) .. 6 (Sun)"), "weekdays")
    dates = horizon(session, settings, resident.street_id, now)
    _check_date(dates, spec.start_date, "start_date")
    if spec.end_date is not None:
        if spec.end_date < spec.start_date:
            raise BadInput(_("end_date is before start_date"), "end_date")
        _check_date(dates, spec.end_date, "end_date")
    series = OrderSeries(
        resident_id=resident.id,
        item=item.code,
        weekdays=weekdays,
        **_visit_terms(spec),
        start_date=spec.start_date,
        end_date=spec.end_date,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(series)
    session.flush()
    for offset in range(SERIES_HORIZON_DAYS):
        day = dates.first + dt.timedelta(days=offset)
        _occur(session, settings, series, resident, day, dates, now)
    audit(session, actor.user_id, "series.place", "order_series", series.id, {"item": item.code})
    session.commit()
    return series_view(session, series)


def materialize_series(
    session: Session,
    street_id: int,
    date: dt.date,
    now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> list[OrderRow]:
    """Create ``date``'s occurrence of every active series of the street that falls on it,
    when ``date`` is inside the street's order horizon (``settings`` gives the street's time
    zone; by default the service's settings). Idempotent: an occurrence that exists already is
    left alone. The caller commits (the nightly run does this inside its own transaction,
    before it reads the open orders)."""
    now = now or utcnow()
    dates = horizon(session, settings or get_settings(), street_id, now)
    if date not in dates:
        return []
    stmt = (
        select(OrderSeries, ResidentRow)
        .join(ResidentRow, ResidentRow.id == OrderSeries.resident_id)
        .where(ResidentRow.street_id == street_id, OrderSeries.active.is_(True))
        .order_by(OrderSeries.id)
    )
    created = []
    for series, resident in session.execute(stmt).all():
        order = _occur(session, settings or get_settings(), series, resident, date, dates, now)
        if order is not None:
            created.append(order)
    return created


def _occur(
    session: Session,
    settings: Settings,
    series: OrderSeries,
    resident: ResidentRow,
    date: dt.date,
    dates: DateRange,
    now: dt.datetime,
) -> OrderRow | None:
    """The series' order for ``date`` if it falls on it, inside the horizon ``dates``, and does
    not exist yet."""
    in_range = series.start_date <= date and (series.end_date is None or date <= series.end_date)
    in_range = in_range and date in dates
    if not (series.active and resident.active and in_range and date.weekday() in series.weekdays):
        return None
    exists = select(OrderRow.id).where(OrderRow.series_id == series.id, OrderRow.date == date)
    if session.scalar(exists) is not None:
        return None
    order = OrderRow(
        street_id=resident.street_id,
        resident_id=resident.id,
        item=series.item,
        date=date,
        **_visit_terms(series),
        series_id=series.id,
        placed_by=series.created_by,
        placed_at=now,
    )
    promise(session, settings, order, owner_for(session, series.created_by), now)
    if series.created_by is not None:
        role = session.scalar(select(UserRow.role).where(UserRow.id == series.created_by))
        order.status = intake_status(session, resident.street_id, role)
    try:
        with session.begin_nested():  # a concurrent run made it first: (series, date) is unique
            session.add(order)
            session.flush()
    except IntegrityError:
        return None
    return order


def end_series(
    session: Session, actor: Actor, series_id: int, now: dt.datetime | None = None
) -> SeriesView:
    """Stop a series: no new occurrences; the existing ones stay as they are."""
    begin_write(session)
    series = _scoped_series(session, actor, series_id)
    if series.active:
        series.active = False
        audit(session, actor.user_id, "series.end", "order_series", series.id)
    session.commit()
    return series_view(session, series)


def list_series(
    session: Session, actor: Actor, page: int = 1, page_size: int = 50
) -> Page[SeriesView]:
    """Recurring orders in the caller's scope, newest first."""
    stmt = select(OrderSeries).join(ResidentRow, ResidentRow.id == OrderSeries.resident_id)
    if actor.role in (Role.STAFF, Role.GRID_WORKER):
        stmt = stmt.where(
            actor.person_scope(ResidentRow.street_id, ResidentRow.community_id, ResidentRow.grid_id)
        )
    else:
        stmt = stmt.where(OrderSeries.resident_id == (actor.resident_id or -1))
    rows, total = fetch_page(session, stmt.order_by(OrderSeries.id.desc()), page, page_size)
    return Page([series_view(session, s) for s in rows], total, page, page_size)


def _scoped_series(session: Session, actor: Actor, series_id: int) -> OrderSeries:
    series = session.get(OrderSeries, series_id)
    resident = session.get(ResidentRow, series.resident_id) if series else None
    if series is None or resident is None or not may_see_resident(actor, resident):
        raise NotFound(_("order series %(series_id)s not found", series_id=series_id))
    return series


def series_view(session: Session, series: OrderSeries) -> SeriesView:
    count = select(func.count()).where(OrderRow.series_id == series.id)
    return from_row(SeriesView, series, occurrences=session.scalar(count) or 0)


# ----------------------------------------------------------------------------- reading


def list_orders(
    session: Session, actor: Actor, filters: OrderFilters, page: int = 1, page_size: int = 50
) -> Page[OrderView]:
    """Orders in the caller's scope that match ``filters``, by date and start time."""
    now = utcnow()
    stmt = scope_orders(
        select(OrderRow).join(ResidentRow, ResidentRow.id == OrderRow.resident_id), actor
    )
    conditions = {
        "date": lambda v: OrderRow.date == v,
        "date_from": lambda v: OrderRow.date >= v,
        "date_to": lambda v: OrderRow.date <= v,
        "status": lambda v: OrderRow.status == v,
        "community_id": lambda v: ResidentRow.community_id == v,
        "item": lambda v: OrderRow.item == v,
        "resident_id": lambda v: OrderRow.resident_id == v,
        "grid_id": lambda v: ResidentRow.grid_id == v,
        "overdue": lambda v: overdue_where(now) if v else ~overdue_where(now),
    }
    for name, condition in conditions.items():
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(condition(value))
    stmt = stmt.order_by(
        OrderRow.date, OrderRow.window_start.is_(None), OrderRow.window_start, OrderRow.id
    )
    rows, total = fetch_page(session, stmt, page, page_size)
    return Page([order_view(session, o) for o in rows], total, page, page_size)


def get_order(session: Session, actor: Actor, order_id: int) -> OrderDetail:
    """One order with its live assignment (the team and each member's offer status)."""
    order = scoped_order(session, actor, order_id)
    assignment = live_assignment(session, order.id)
    feedback = session.scalar(select(FeedbackRow).where(FeedbackRow.order_id == order.id))
    return _detail(session, actor, order, assignment, feedback)


def get_orders(session: Session, actor: Actor, order_ids: Iterable[int]) -> dict[int, OrderDetail]:
    """``get_order`` of several orders (a page listing them), read together: the orders, their
    live assignments and their feedback in a statement each, not one each per order."""
    found = scoped_orders(session, actor, order_ids)
    ids = [order.id for order in found]
    teams = live_assignments(session, ids)
    feedback: dict[int, FeedbackRow] = {}
    if ids:
        given = select(FeedbackRow).where(FeedbackRow.order_id.in_(ids)).order_by(FeedbackRow.id)
        for row in session.scalars(given):
            feedback.setdefault(row.order_id, row)
    return {
        order.id: _detail(session, actor, order, teams.get(order.id), feedback.get(order.id))
        for order in found
    }


def _detail(
    session: Session,
    actor: Actor,
    order: OrderRow,
    assignment: AssignmentRow | None,
    feedback: FeedbackRow | None,
) -> OrderDetail:
    team_view = None
    if assignment is not None:
        offers = sorted(assignment.offers, key=lambda o: o.id)
        if actor.speaks_for_resident:  # as their page shows it: who accepted, names masked
            team = [
                TeamMember(o.helper_id, first_name(o.helper.name), o.status, o.respond_by,
                           o.responded_at)
                for o in offers
                if o.status == "accepted"
            ]  # fmt: skip
        else:
            team = [
                TeamMember(o.helper_id, o.helper.name, o.status, o.respond_by, o.responded_at)
                for o in offers
            ]
        team_view = AssignmentView(
            id=assignment.id,
            status=assignment.status,
            source=assignment.source,
            start_minute=assignment.start_minute,
            done_at=assignment.done_at,
            confirmed_at=assignment.confirmed_at,
            team=team,
        )
    entered = session.get(UserRow, order.placed_by) if order.placed_by else None
    reviewer = session.get(UserRow, order.reviewed_by) if order.reviewed_by else None
    return OrderDetail(
        order=order_view(session, order),
        assignment=team_view,
        feedback_score=feedback.score if feedback else None,
        feedback_comment=feedback.comment if feedback else None,
        cancelled_at=order.cancelled_at,
        cancel_reason=order.cancel_reason,
        entered_by=entered.display_name if entered else "",
        entered_role=entered.role if entered else "",
        reviewed_by=reviewer.display_name if reviewer else "",
        reviewed_at=order.reviewed_at,
    )


def order_view(session: Session, order: OrderRow) -> OrderView:
    item = street_catalogue(session, order.street_id).item(order.item)
    return from_row(
        OrderView,
        order,
        item_name_zh=item.name_zh,
        item_name_en=item.name_en,
        price_yuan=item.price_yuan,
        resident_name=order.resident.name,
        community_id=order.resident.community_id,
        overdue=is_overdue(order.status, order.due_at, utcnow()),
    )


def from_row(view: type[T], row: object, **extra: Any) -> T:
    """A view dataclass from a table row: same-named columns copied, the rest from ``extra``."""
    names = {f.name for f in fields(view)} - extra.keys()  # type: ignore[arg-type]
    return view(**{name: getattr(row, name) for name in names}, **extra)


# ----------------------------------------------------------------------------- a resident's own


@dataclass(frozen=True)
class ResidentOrder:
    """A resident account's own order as its phone page shows it: the order, the helpers by
    first name once the visit is arranged, the feedback given, and what the resident may do
    (the services still decide: cancel ``dispatch.cancel_order``, rate ``give_feedback``)."""

    order: OrderView
    helpers: list[str]
    feedback_score: int | None
    may_cancel: bool
    may_rate: bool


# The order's statuses in which its resident sees who comes: the team has accepted (assigned)
# or the visit took place. While helpers are only being asked (offered) nobody is named.
HELPERS_SHOWN = (OrderStatus.ASSIGNED, OrderStatus.DONE, OrderStatus.CONFIRMED)
RATED_STATUSES = (OrderStatus.DONE, OrderStatus.CONFIRMED)  # as ``give_feedback`` asks


def first_name(name: str) -> str:
    """What a resident sees of a helper's name: a Western name's first word; a Chinese name's
    surname with the rest masked (王小明 → 王**), as Chinese services show a name."""
    name = name.strip()
    if " " in name:
        return name.split()[0]
    return name[:1] + "*" * (len(name) - 1)


def resident_orders(
    session: Session,
    settings: Settings,
    actor: Actor,
    *,
    upcoming: bool,
    page: int = 1,
    page_size: int = 20,
    now: dt.datetime | None = None,
) -> Page[ResidentOrder]:
    """A resident account's own orders (a family account: those of the resident it acts for):
    from today on soonest first (``upcoming``), else the earlier ones latest first. Any other
    account: ``NotFound``."""
    if not actor.speaks_for_resident:
        raise NotFound(_("no resident is tied to this account"))
    today = local_today(settings, now or utcnow())
    stmt = select(OrderRow).where(OrderRow.resident_id == actor.resident_id)
    if upcoming:
        stmt = stmt.where(OrderRow.date >= today).order_by(
            OrderRow.date, OrderRow.window_start.is_(None), OrderRow.window_start, OrderRow.id
        )
    else:
        stmt = stmt.where(OrderRow.date < today).order_by(OrderRow.date.desc(), OrderRow.id.desc())
    rows, total = fetch_page(session, stmt, page, page_size)
    return Page([_resident_order(session, row, today) for row in rows], total, page, page_size)


def resident_horizon(
    session: Session, settings: Settings, actor: Actor, now: dt.datetime | None = None
) -> DateRange:
    """The dates a resident account may order for: its street's horizon (``BadInput`` for a
    deactivated resident, ``NotFound`` for an account tied to none)."""
    resident = _resident_for(session, actor, None)
    return horizon(session, settings, resident.street_id, now or utcnow())


def _resident_order(session: Session, order: OrderRow, today: dt.date) -> ResidentOrder:
    score = session.scalar(select(FeedbackRow.score).where(FeedbackRow.order_id == order.id))
    helpers: list[str] = []
    assignment = live_assignment(session, order.id) if order.status in HELPERS_SHOWN else None
    if assignment is not None:
        helpers = [
            first_name(offer.helper.name)
            for offer in sorted(assignment.offers, key=lambda o: o.id)
            if offer.status == OfferStatus.ACCEPTED
        ]
    return ResidentOrder(
        order=order_view(session, order),
        helpers=helpers,
        feedback_score=score,
        may_cancel=order.status in CANCELLABLE_ORDER_STATUSES and order.date >= today,
        may_rate=order.status in RATED_STATUSES and score is None,
    )
