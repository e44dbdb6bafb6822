"""The street on a map for one date: residents with an order that day and every helper, each with
a status, and how many of the day's orders each active helper holds (the load chart).

Staff see their street (or their community), with names; the residents shown are written to the
audit log, as a ledger list page is. Planners see the whole street without personal data: no names
or codes, and places rounded to about 200 m.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, case, distinct, func, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, NotFound
from api.services.ledger.views import scope, sees_personal_data
from api.store.db import begin_write
from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    AssignmentRow,
    HelperRow,
    OfferRow,
    OrderRow,
    ResidentRow,
)

COARSE_DEG = 0.002  # a planner's map: places rounded to this (about 200 m)
# More helpers in scope than this (a city street holds 14,400): they are read and drawn as
# groups, those of one status in one cell of a GRID × GRID division of the helpers' extent;
# so are the residents with orders that day when more than this.
MOST_HELPERS = 1000
GRID = 24
# An order's status → its resident's colour; a resident with several orders takes the worst.
ORDER_STATUS = {
    "open": "unmatched",
    "offered": "offered",
    "assigned": "matched",
    "done": "matched",
    "confirmed": "matched",
}
RESIDENT_RANK = {"unmatched": 0, "offered": 1, "matched": 2}


@dataclass(frozen=True)
class MapPoint:
    """A resident (status matched / offered / unmatched) or a helper (busy / free / inactive).
    ``orders``: the resident's orders that day, or the orders the helper holds that day."""

    kind: str
    id: int
    lat: float
    lon: float
    status: str
    community_id: int
    orders: int
    name: str | None  # None on a planner's map
    code: str | None


@dataclass(frozen=True)
class MapGroup:
    """Helpers of one status in one cell of the map: how many, and their mean place (rounded
    as a planner's points are on a planner's map)."""

    kind: str
    status: str
    lat: float
    lon: float
    count: int


@dataclass(frozen=True)
class StreetMap:
    date: dt.date
    residents: list[MapPoint]
    helpers: list[MapPoint]  # empty when the helpers are grouped (and residents, when they are)
    load: list[int]  # load[n]: active helpers holding n of the day's orders
    personal: bool
    groups: list[MapGroup] = field(default_factory=list)  # those drawn as groups

    @property
    def helper_count(self) -> int:
        return len(self.helpers) + sum(g.count for g in self.groups if g.kind == "helper")

    @property
    def resident_count(self) -> int:
        return len(self.residents) + sum(g.count for g in self.groups if g.kind == "resident")


def street_map(session: Session, actor: Actor, date: dt.date) -> StreetMap:
    """Residents with an order on ``date`` and the helpers, in the caller's scope."""
    if actor.role not in ("staff", "planner"):
        raise NotFound(_("not found"))
    if actor.street_id is None:
        raise BadInput(_("this account belongs to no street"), "street_id")
    personal = sees_personal_data(actor)
    residents = _residents(session, actor, date, personal)
    count = session.scalar(scope(select(func.count(HelperRow.id)), HelperRow, actor)) or 0
    groups: list[MapGroup] = []
    helpers: list[MapPoint]
    if count > MOST_HELPERS:
        box = _box(session, actor)
        helpers, (groups, load) = [], _helper_groups(session, actor, date, personal, box)
        if len(residents) > MOST_HELPERS:
            groups += _resident_groups(residents, personal, box)
    else:
        helpers, load = _helpers(session, actor, date, personal)
    if personal and residents:
        begin_write(session)
        shown = {"ids": [p.id for p in residents], "date": date.isoformat()}
        audit(session, actor.user_id, "resident.map", "resident", "", shown)
        session.commit()
    drawn = residents if not groups or len(residents) <= MOST_HELPERS else []
    return StreetMap(date, drawn, helpers, load, personal, groups)


# What a point shows of a person: read by the column (a street's helpers are thousands of rows,
# each with JSON columns the map does not need).
def _columns(table: type[HelperRow] | type[ResidentRow]) -> tuple[Any, ...]:
    return (table.id, table.lat, table.lon, table.community_id, table.name, table.code)


def _residents(session: Session, actor: Actor, date: dt.date, personal: bool) -> list[MapPoint]:
    stmt = scope(
        select(*_columns(ResidentRow), OrderRow.status).join(
            OrderRow, OrderRow.resident_id == ResidentRow.id
        ),
        ResidentRow,
        actor,
    ).where(
        # An order's street is its resident's: said of the order too, so that the day's orders
        # are read by the street's index (PostgreSQL scanned the city's orders: 94 -> 11 ms).
        OrderRow.street_id == actor.street_id,
        OrderRow.date == date,
        OrderRow.status.in_(list(ORDER_STATUS)),
    )
    rows: dict[int, Any] = {}
    statuses: dict[int, list[str]] = {}
    for resident in session.execute(stmt.order_by(ResidentRow.id, OrderRow.id)):
        rows[resident.id] = resident
        statuses.setdefault(resident.id, []).append(ORDER_STATUS[resident.status])
    return [
        _point(
            "resident",
            row,
            min(statuses[row.id], key=RESIDENT_RANK.__getitem__),
            len(statuses[row.id]),
            personal,
        )
        for row in rows.values()
    ]


def _held(actor: Actor, date: dt.date) -> Select[int, int]:
    """Per helper, the day's orders of the street they hold (a live offer of a live team)."""
    return (
        select(OfferRow.helper_id, func.count(distinct(AssignmentRow.order_id)))
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .where(
            OrderRow.street_id == actor.street_id,
            OrderRow.date == date,
            OfferRow.status.in_(LIVE_OFFER_STATUSES),
            AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
        )
        .group_by(OfferRow.helper_id)
    )


Box = tuple[float, float, float]  # south, west, a cell's side (degrees)


def _box(session: Session, actor: Actor) -> Box:
    """The cells: a GRID × GRID division of the square holding the helpers in scope."""
    extent = select(
        func.min(HelperRow.lat),
        func.max(HelperRow.lat),
        func.min(HelperRow.lon),
        func.max(HelperRow.lon),
    )
    south, north, west, east = session.execute(scope(extent, HelperRow, actor)).one()
    return south, west, max(north - south, east - west, 1e-6) / GRID


def _resident_groups(residents: list[MapPoint], personal: bool, box: Box) -> list[MapGroup]:
    """The residents by status and cell, as the helpers are."""
    south, west, cell = box
    cells: dict[tuple[str, int, int], list[MapPoint]] = {}
    for point in residents:
        key = (
            point.status,
            math.floor((point.lat - south) / cell),
            math.floor((point.lon - west) / cell),
        )
        cells.setdefault(key, []).append(point)
    return [
        _group("resident", status, [p.lat for p in points], [p.lon for p in points], personal)
        for (status, _row, _column), points in sorted(cells.items())
    ]


def _group(
    kind: str, status: str, lats: list[float], lons: list[float], personal: bool
) -> MapGroup:
    lat, lon = sum(lats) / len(lats), sum(lons) / len(lons)
    if not personal:
        lat, lon = _coarse(lat), _coarse(lon)
    return MapGroup(kind, status, lat, lon, len(lats))


def _helper_groups(
    session: Session, actor: Actor, date: dt.date, personal: bool, box: Box
) -> tuple[list[MapGroup], list[int]]:
    """The helpers by status and cell, and the load chart's figures: grouped in the database."""
    south, west, cell = box
    held = _held(actor, date).subquery()
    orders = func.coalesce(held.c[1], 0)
    status = case((~HelperRow.active, "inactive"), (orders > 0, "busy"), else_="free")
    row, column = (
        func.floor((HelperRow.lat - south) / cell),
        func.floor((HelperRow.lon - west) / cell),
    )
    query = scope(
        select(status, func.count(), func.avg(HelperRow.lat), func.avg(HelperRow.lon))
        .select_from(HelperRow)
        .outerjoin(held, held.c.helper_id == HelperRow.id)
        .group_by(status, row, column),
        HelperRow,
        actor,
    )
    groups = [
        MapGroup(
            "helper",
            status_of,
            lat if personal else _coarse(lat),
            lon if personal else _coarse(lon),
            count,
        )
        for status_of, count, lat, lon in session.execute(query.order_by(status, row, column))
    ]
    chart = scope(
        select(orders, func.count())
        .select_from(HelperRow)
        .outerjoin(held, held.c.helper_id == HelperRow.id)
        .where(HelperRow.active)
        .group_by(orders),
        HelperRow,
        actor,
    )
    counts: dict[int, int] = dict(session.execute(chart).tuples().all())
    load = [counts.get(n, 0) for n in range(max(counts, default=0) + 1)]
    return groups, load


def _helpers(
    session: Session, actor: Actor, date: dt.date, personal: bool
) -> tuple[list[MapPoint], list[int]]:
    held = dict(session.execute(_held(actor, date)).tuples().all())
    points = []
    query = scope(select(*_columns(HelperRow), HelperRow.active), HelperRow, actor)
    for row in session.execute(query.order_by(HelperRow.id)):
        orders = held.get(row.id, 0)
        status = "inactive" if not row.active else "busy" if orders else "free"
        points.append(_point("helper", row, status, orders, personal))
    counts = Counter(p.orders for p in points if p.status != "inactive")
    load = [counts.get(n, 0) for n in range(max(counts, default=0) + 1)]
    return points, load


def _point(kind: str, row: Any, status: str, orders: int, personal: bool) -> MapPoint:
    lat, lon = (row.lat, row.lon) if personal else (_coarse(row.lat), _coarse(row.lon))
    return MapPoint(
        kind=kind,
        id=row.id,
        lat=lat,
        lon=lon,
        status=status,
        community_id=row.community_id,
        orders=orders,
        name=row.name if personal else None,
        code=row.code if personal else None,
    )


def _coarse(degrees: float) -> float:
    return round(round(degrees / COARSE_DEG) * COARSE_DEG, 6)
