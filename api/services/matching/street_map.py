"""The street on a map for one date: residents with an order that day and every helper, each with
a status, and how many of the day's orders each active helper holds (the load chart).

Staff see their street (or their community), with names; the residents shown are written to the
audit log, as a ledger list page is. Planners see the whole street without personal data: no names
or codes, and places rounded to about 200 m.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import distinct, func, select
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
class StreetMap:
    date: dt.date
    residents: list[MapPoint]
    helpers: list[MapPoint]
    load: list[int]  # load[n]: active helpers holding n of the day's orders
    personal: bool


def street_map(session: Session, actor: Actor, date: dt.date) -> StreetMap:
    """Residents with an order on ``date`` and the helpers, in the caller's scope."""
    if actor.role not in ("staff", "planner"):
        raise NotFound(_("not found"))
    if actor.street_id is None:
        raise BadInput(_("this account belongs to no street"), "street_id")
    personal = sees_personal_data(actor)
    residents = _residents(session, actor, date, personal)
    helpers, load = _helpers(session, actor, date, personal)
    if personal and residents:
        begin_write(session)
        shown = {"ids": [p.id for p in residents], "date": date.isoformat()}
        audit(session, actor.user_id, "resident.map", "resident", "", shown)
        session.commit()
    return StreetMap(date, residents, helpers, load, personal)


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
    ).where(OrderRow.date == date, OrderRow.status.in_(list(ORDER_STATUS)))
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


def _helpers(
    session: Session, actor: Actor, date: dt.date, personal: bool
) -> tuple[list[MapPoint], list[int]]:
    held = dict(
        session.execute(
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
        ).all()
    )
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
