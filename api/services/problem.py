"""Database rows → the matcher's ``Problem`` for one street and date (the one place this converts).

Helpers enter with what is left of their day: every live assignment they hold that date outside
the orders being matched (pending or accepted offers, done visits) takes one of their orders, its
minutes plus travel, and — for a timed visit — that stretch of their availability.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    AssignmentRow,
    CategoryRow,
    HelperRow,
    ItemRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    SkillRow,
)
from matcher.catalogue import load_catalogue
from matcher.model import (
    Catalogue,
    Category,
    Gender,
    Helper,
    HelperKind,
    Location,
    Order,
    Problem,
    Resident,
    ResidentCategory,
    ServiceItem,
    Skill,
    TimeWindow,
)
from matcher.result import Assignment
from matcher.travel import EARTH_RADIUS_KM, great_circle_km, round_trip_minutes
from matcher.verify import Violation, check_plan

DETOUR = 1.3  # matcher.model.GeoTravel's defaults: the street's travel model
SPEED_KMH = 12.0


def helper_key(helper_id: int) -> str:
    return f"h{helper_id}"


def resident_key(resident_id: int) -> str:
    return f"r{resident_id}"


def order_key(order_id: int) -> str:
    return f"o{order_id}"


def row_id(key: str) -> int:
    return int(key[1:])


@dataclass
class StreetProblem:
    """A matcher problem and the rows behind its ids."""

    problem: Problem
    orders: dict[str, OrderRow] = field(default_factory=dict)
    helpers: dict[str, Any] = field(default_factory=dict)  # helper rows (plain or ORM)
    residents: dict[str, ResidentRow] = field(default_factory=dict)


def catalogue_from_db(session: Session) -> Catalogue:
    """The catalogue as stored (items may be deactivated by the office)."""
    skills = session.scalars(select(SkillRow).order_by(SkillRow.code)).all()
    if not skills:
        return load_catalogue()
    categories = session.scalars(select(CategoryRow).order_by(CategoryRow.code)).all()
    items = session.scalars(select(ItemRow).order_by(ItemRow.code)).all()
    return Catalogue(
        skills=tuple(Skill(code=s.code, name_zh=s.name_zh, name_en=s.name_en) for s in skills),
        categories=tuple(
            Category(code=c.code, name_zh=c.name_zh, name_en=c.name_en, paid=c.paid)
            for c in categories
        ),
        items=tuple(_item(i) for i in items),
    )


def _item(row: ItemRow) -> ServiceItem:
    return ServiceItem(
        code=row.code,
        name_zh=row.name_zh,
        name_en=row.name_en,
        category=row.category,
        paid=row.paid,
        required_skills=frozenset(row.required_skills),
        lead_skill=row.lead_skill,
        duration_min=row.duration_min,
        team_size=row.team_size,
        max_distance_km=row.max_distance_km,
        points=row.points,
    )


def leg_minutes(helper: Any, resident: ResidentRow | Location) -> tuple[float, int]:
    """One-way km and round-trip minutes, as the matcher's geo travel computes them (``helper``:
    a helper row, ORM or plain)."""
    where = resident if isinstance(resident, Location) else _where(resident)
    km = great_circle_km(Location(lat=helper.lat, lon=helper.lon), where) * DETOUR
    return km, round_trip_minutes(2 * km, helper.speed_kmh or SPEED_KMH)


def _where(row: Any) -> Location:
    return Location(lat=row.lat, lon=row.lon)


def build_problem(
    session: Session,
    street_id: int,
    date: dt.date,
    orders: Iterable[OrderRow],
    *,
    pins: dict[int, list[int]] | None = None,
    refused: dict[int, set[int]] | None = None,
    helper_ids: set[int] | None = None,
    fixed_starts: dict[int, int] | None = None,
    near: bool = False,
    committed: bool = True,
    members: Iterable[int] = (),
) -> StreetProblem:
    """The problem of matching ``orders`` (all dated ``date``) on the street's active helpers.

    ``near`` (for a problem of one or a few orders: a re-match, a candidate list) reads only the
    helpers whose own radius could reach one of the residents, by a bounding box that is always
    looser than the matcher's reach check: the matcher still decides, the box only spares
    reading helpers who could never be eligible.

    ``pins`` maps an order id to helpers who must serve it (members who already accepted).
    ``refused`` maps an order id to helpers who declined or let it expire: they are not offered
    that resident again that day. ``helper_ids`` restricts the helpers (e.g. one claimer).
    With ``committed=False`` helpers enter with their whole day (no visit outside ``orders`` is
    taken off it) and ``members`` are entered even if deactivated since: what a checker needs
    to verify the visits already given out (``api.services.invariants``).
    """
    orders = list(orders)
    pins = pins or {}
    refused = refused or {}
    # Plain rows (every column, no ORM objects): a street has thousands of helpers, and a
    # one-order re-match must stay fast.
    query = select(*HelperRow.__table__.columns).where(
        HelperRow.street_id == street_id, HelperRow.active
    )
    if helper_ids is not None:
        query = query.where(HelperRow.id.in_(helper_ids or {-1}))
    if near and orders:
        query = query.where(or_(*(_within_radius_box(o.resident) for o in orders)))
    helper_rows: dict[int, Any] = {h.id: h for h in session.execute(query.order_by(HelperRow.id))}
    kept = [*(h for pinned in pins.values() for h in pinned), *members]
    for helper_id in kept:  # a pinned member stays in, even if deactivated since
        if helper_id not in helper_rows:
            helper_rows[helper_id] = session.get_one(HelperRow, helper_id)
    residents = {o.resident_id: o.resident for o in orders}
    loads = _loads(session, date, {o.id for o in orders}, helper_rows) if committed else {}
    blocked = _refusals(orders, refused)
    for row in helper_rows.values():  # the ledger's own blocks (resident codes)
        codes = set(row.blocked_residents)
        blocked[row.id].update(resident_key(r.id) for r in residents.values() if r.code in codes)
    catalogue = catalogue_from_db(session)
    helpers = tuple(
        _helper(row, loads.get(row.id, []), blocked.get(row.id, set()))
        for row in helper_rows.values()
    )
    circles = _circles(session, residents, set(helper_rows))
    problem = Problem(
        date=date,
        catalogue=catalogue,
        helpers=helpers,
        residents=tuple(_resident(r, circles.get(r.id, ())) for r in residents.values()),
        orders=tuple(
            _order(o, date, pins.get(o.id, ()), (fixed_starts or {}).get(o.id), catalogue)
            for o in orders
        ),
    )
    return StreetProblem(
        problem=problem,
        orders={order_key(o.id): o for o in orders},
        helpers={helper_key(h): row for h, row in helper_rows.items()},
        residents={resident_key(r): row for r, row in residents.items()},
    )


def _within_radius_box(resident: ResidentRow) -> ColumnElement[bool]:
    """Helpers whose radius, as a box around them, holds the resident: a necessary condition of
    the reach rule (great-circle km × detour ≤ radius) with 5 % to spare, so never stricter."""
    km_per_degree = math.pi * EARTH_RADIUS_KM / 180 / 1.05
    lon_scale = km_per_degree * math.cos(math.radians(min(89.0, abs(resident.lat) + 1.0)))
    reach = HelperRow.radius_km / DETOUR
    return and_(
        func.abs(HelperRow.lat - resident.lat) * km_per_degree <= reach,
        func.abs(HelperRow.lon - resident.lon) * lon_scale <= reach,
    )


@dataclass(frozen=True)
class Load:
    """A visit a helper already holds that day."""

    minutes: int  # visit plus round trip
    span: tuple[int, int] | None  # occupied stretch of the day, for timed visits


def _loads(
    session: Session, date: dt.date, solving: set[int], helpers: dict[int, Any]
) -> dict[int, list[Load]]:
    rows = session.execute(
        select(
            OfferRow.helper_id,
            AssignmentRow.start_minute,
            OrderRow.id,
            ResidentRow.lat,
            ResidentRow.lon,
            ItemRow.duration_min,
        )
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
        .join(ItemRow, OrderRow.item == ItemRow.code)
        .where(
            OrderRow.date == date,
            AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
            OfferRow.status.in_(LIVE_OFFER_STATUSES),
        )
    ).all()
    loads: dict[int, list[Load]] = defaultdict(list)
    for helper_id, start, order_id, lat, lon, duration in rows:
        if order_id in solving or helper_id not in helpers:
            continue
        _, minutes = leg_minutes(helpers[helper_id], Location(lat=lat, lon=lon))
        span = None
        if start is not None:
            out = (minutes + 1) // 2
            span = (start - out, start + duration + minutes - out)
        loads[helper_id].append(Load(minutes=duration + minutes, span=span))
    return loads


def _refusals(orders: list[OrderRow], refused: dict[int, set[int]]) -> dict[int, set[str]]:
    blocked: dict[int, set[str]] = defaultdict(set)
    for order in orders:
        for helper_id in refused.get(order.id, ()):
            blocked[helper_id].add(resident_key(order.resident_id))
    return blocked


def _circles(
    session: Session, residents: dict[int, ResidentRow], helper_ids: set[int]
) -> dict[int, tuple[str, ...]]:
    """Each resident's circle: helpers from the ledger's circle plus those who served them."""
    by_code = {
        code: helper_id
        for helper_id, code in session.execute(
            select(HelperRow.id, HelperRow.code).where(HelperRow.id.in_(helper_ids or {-1}))
        )
    }
    served = session.execute(
        select(OrderRow.resident_id, OfferRow.helper_id)
        .join(AssignmentRow, AssignmentRow.order_id == OrderRow.id)
        .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
        .where(
            OrderRow.resident_id.in_(set(residents) or {-1}),
            AssignmentRow.status.in_(("done", "confirmed")),
            OfferRow.status == "accepted",
        )
    ).all()
    circles: dict[int, set[int]] = defaultdict(set)
    for resident in residents.values():
        circles[resident.id].update(by_code[c] for c in resident.circle if c in by_code)
    for resident_id, helper_id in served:
        if helper_id in helper_ids:
            circles[resident_id].add(helper_id)
    return {r: tuple(helper_key(h) for h in sorted(hs)) for r, hs in circles.items()}


def _helper(row: Any, loads: list[Load], blocked: set[str]) -> Helper:
    windows = [(int(a), int(b)) for a, b in row.availability]
    for load in loads:
        if load.span is not None:
            windows = _cut(windows, load.span)
    return Helper(
        id=helper_key(row.id),
        kind=HelperKind(row.kind),
        location=_where(row),
        skills=frozenset(row.skills),
        availability=tuple(TimeWindow(start=a, end=b) for a, b in windows),
        max_orders=max(0, row.max_orders - len(loads)),
        max_minutes=row.max_minutes,
        committed_minutes=sum(load.minutes for load in loads),
        radius_km=row.radius_km,
        languages=frozenset(row.languages),
        gender=Gender(row.gender) if row.gender else None,
        blocked_residents=frozenset(blocked),
        speed_kmh=row.speed_kmh,
    )


def _cut(windows: list[tuple[int, int]], span: tuple[int, int]) -> list[tuple[int, int]]:
    """Availability windows with the busy span taken out."""
    lo, hi = span
    out = []
    for start, end in windows:
        if start < lo:
            out.append((start, min(end, lo)))
        if end > hi:
            out.append((max(start, hi), end))
    return [(a, b) for a, b in out if b > a]


def _resident(row: ResidentRow, circle: tuple[str, ...]) -> Resident:
    return Resident(
        id=resident_key(row.id),
        category=ResidentCategory(row.category),
        location=_where(row),
        priority_weight=row.priority_weight,
        circle=circle,
        preferred_gender=Gender(row.preferred_gender) if row.preferred_gender else None,
        language=row.language,
    )


def _order(
    row: OrderRow, date: dt.date, pinned: Iterable[int], start: int | None, catalogue: Catalogue
) -> Order:
    window = None
    flexible = row.flexible
    if start is not None:
        duration = next(i.duration_min for i in catalogue.items if i.code == row.item)
        window, flexible = TimeWindow(start=start, end=min(1440, start + duration)), False
    elif row.window_start is not None and row.window_end is not None:
        window = TimeWindow(start=row.window_start, end=row.window_end)
    return Order(
        id=order_key(row.id),
        resident=resident_key(row.resident_id),
        item=row.item,
        date=date,
        window=window,
        flexible_start=flexible,
        priority=row.priority,
        days_waited=max(0, (date - row.placed_at.date()).days - 1),
        pinned=tuple(helper_key(h) for h in pinned),
    )


def team_violations(
    session: Session,
    order: OrderRow,
    helper_ids: list[int],
    start: int | None,
    refused: dict[int, set[int]] | None = None,
) -> list[Violation]:
    """The hard rules sending ``helper_ids`` to ``order`` at ``start`` would break, as the
    matcher's own checker judges them: helpers enter with what is left of their day outside
    this order (the one path manual assignment and claims take; nothing restated here)."""
    fixed = {order.id: start} if start is not None else None
    street = build_problem(
        session,
        order.street_id,
        order.date,
        [order],
        refused=refused,
        helper_ids=set(helper_ids),
        fixed_starts=fixed,
    )
    team = tuple(sorted(helper_key(h) for h in helper_ids))
    return check_plan(
        street.problem, [Assignment(order=order_key(order.id), helpers=team, start=start)]
    )
