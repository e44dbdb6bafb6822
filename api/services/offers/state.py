"""An order as a re-match plans on it and checks it again under the street's write lock, in one
read of no row objects (``order_state``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Select, String, bindparam, cast, literal, select
from sqlalchemy.orm import Session

from api.services.offers.assign import Visit
from api.store.stamps import CATALOGUE
from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    AssignmentRow,
    CacheStamp,
    OfferRow,
    OrderReserve,
    OrderRow,
)

REFUSALS = ("declined", "expired")


@dataclass(frozen=True)
class OrderState:
    """An order as a re-match plans on it, and checks it again under the lock, in one read
    (``order_state``): the order's status and version, what its visit's deadlines and notices
    use, its live assignment, every offer on any of its assignments (offer, assignment, helper,
    status), its reserve (``OrderReserve``) and the stamps of the catalogue and of the street's
    helpers (what this process keeps built from them; the helpers' is not compared: the plan
    checks the helpers it adds by their day)."""

    order_id: int
    street_id: int
    status: str
    version: int
    date: dt.date
    window_start: int | None
    item: str
    assignment_id: int | None
    assignment_status: str | None
    override_reason: str | None
    start_minute: int | None
    offers: tuple[tuple[int, int, int, str], ...]
    catalogue_stamp: str | None
    reserve: tuple[int, ...] = field(default=(), compare=False)
    helpers_stamp: str | None = field(default=None, compare=False)

    def members(self) -> list[tuple[int, int]]:
        """The live team's live offers: (offer id, helper id)."""
        return [
            (i, h)
            for i, a, h, status in self.offers
            if a == self.assignment_id and status in LIVE_OFFER_STATUSES
        ]

    def refused(self) -> set[int]:
        """The helpers who declined the order or let an offer for it expire."""
        return {h for _i, _a, h, status in self.offers if status in REFUSALS}

    def counted(self, status: str) -> int:
        """The live team's offers in ``status``."""
        return sum(a == self.assignment_id and s == status for _i, a, _h, s in self.offers)

    @property
    def visit(self) -> Visit:
        return Visit(self.order_id, self.street_id, self.item, self.date, self.window_start)


def order_state(session: Session, order_id: int) -> OrderState:
    """The order's ``OrderState``: one read, rows of no ORM object."""
    rows = session.execute(_state_query(), {"order": order_id}).all()
    first = rows[0]  # the order exists: its row comes with or without assignments
    live = next((r for r in rows if r.assignment_status in LIVE_ASSIGNMENT_STATUSES), None)
    offers = {
        (r.offer_id, r.assignment_id, r.helper_id, r.offer_status) for r in rows if r.offer_id
    }
    return OrderState(
        order_id=order_id,
        street_id=first.street_id,
        status=first.status,
        version=first.version,
        date=first.date,
        window_start=first.window_start,
        item=first.item,
        assignment_id=live.assignment_id if live else None,
        assignment_status=live.assignment_status if live else None,
        override_reason=live.override_reason if live else None,
        start_minute=live.start_minute if live else None,
        offers=tuple(sorted(offers)),
        reserve=tuple(first.reserve or ()),
        catalogue_stamp=first.catalogue_stamp,
        helpers_stamp=first.helpers_stamp,
    )


@cache
def _state_query() -> Select[*tuple[Any, ...]]:
    helpers_stamp = (
        select(CacheStamp.stamp)
        .where(CacheStamp.name == literal("helpers:") + cast(OrderRow.street_id, String))
        .correlate(OrderRow)
        .scalar_subquery()
    )
    catalogue_stamp = select(CacheStamp.stamp).where(CacheStamp.name == CATALOGUE).scalar_subquery()
    return (
        select(
            OrderRow.street_id,
            OrderRow.status,
            OrderRow.version,
            OrderRow.date,
            OrderRow.window_start,
            OrderRow.item,
            AssignmentRow.id.label("assignment_id"),
            AssignmentRow.status.label("assignment_status"),
            AssignmentRow.override_reason,
            AssignmentRow.start_minute,
            OfferRow.id.label("offer_id"),
            OfferRow.helper_id,
            OfferRow.status.label("offer_status"),
            OrderReserve.helper_ids.label("reserve"),
            catalogue_stamp.label("catalogue_stamp"),
            helpers_stamp.label("helpers_stamp"),
        )
        .select_from(OrderRow)
        .outerjoin(AssignmentRow, AssignmentRow.order_id == OrderRow.id)
        .outerjoin(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
        .outerjoin(OrderReserve, OrderReserve.order_id == OrderRow.id)
        .where(OrderRow.id == bindparam("order"))
    )
