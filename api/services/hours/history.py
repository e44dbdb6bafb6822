"""A helper's history (我的服务记录): the visits they did, newest first, each with the hours and
points it brought them, and their totals. Helpers read their own, staff their street's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.closing.points import balance
from api.services.errors import NotFound
from api.services.hours.ledger import total_minutes
from api.services.ledger.street_catalogue import street_catalogue
from api.services.ledger.views import scoped_row
from api.services.paging import fetch_page
from api.store.statuses import AssignmentStatus, OfferStatus, Role
from api.store.tables import (
    AssignmentRow,
    HelperRow,
    HoursEntry,
    OfferRow,
    OrderRow,
    PointsEntry,
    ResidentRow,
)


@dataclass(frozen=True)
class VisitLine:
    order_id: int
    date: dt.date
    item_zh: str
    item_en: str
    resident_community: str
    status: str  # the assignment's: done (waiting for staff) or confirmed
    minutes: int | None  # standing hours entries (None: not confirmed yet)
    points: int


@dataclass(frozen=True)
class History:
    helper_id: int
    total_minutes: int
    balance: int
    items: list[VisitLine]
    total: int
    page: int
    page_size: int


def helper_history(
    session: Session, actor: Actor, helper_id: int, page: int = 1, page_size: int = 20
) -> History:
    """The helper's done and confirmed visits, newest first, with the hours and points each
    brought them (reversals counted), and their hours and points in all."""
    helper = _helper(session, actor, helper_id)
    stmt = (
        select(AssignmentRow)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
        .where(
            OfferRow.helper_id == helper.id,
            OfferRow.status == OfferStatus.ACCEPTED,
            AssignmentRow.status.in_((AssignmentStatus.DONE, AssignmentStatus.CONFIRMED)),
        )
        .order_by(OrderRow.date.desc(), OrderRow.id.desc())
    )
    found, total = fetch_page(session, stmt, page, page_size)
    rows = [(assignment.order, assignment.status) for assignment in found]
    ids = [order.id for order, _status in rows]
    minutes = _minutes(session, helper.id, ids) if ids else {}
    points = _points(session, helper.id, ids) if ids else {}
    catalogue = street_catalogue(session, helper.street_id)
    items = []
    for order, status in rows:
        item = catalogue.item(order.item)
        resident: ResidentRow = order.resident
        items.append(
            VisitLine(
                order_id=order.id,
                date=order.date,
                item_zh=item.name_zh,
                item_en=item.name_en,
                resident_community=resident.community.name,
                status=status,
                minutes=minutes.get(order.id) if status == AssignmentStatus.CONFIRMED else None,
                points=points.get(order.id, 0),
            )
        )
    return History(
        helper.id,
        total_minutes(session, helper.id),
        balance(session, helper.id),
        items,
        total,
        page,
        page_size,
    )


def _minutes(session: Session, helper_id: int, order_ids: list[int]) -> dict[int, int]:
    query = (
        select(HoursEntry.order_id, func.sum(HoursEntry.minutes))
        .where(HoursEntry.helper_id == helper_id, HoursEntry.order_id.in_(order_ids))
        .group_by(HoursEntry.order_id)
    )
    return {order_id: int(total or 0) for order_id, total in session.execute(query) if order_id}


def _points(session: Session, helper_id: int, order_ids: list[int]) -> dict[int, int]:
    query = (
        select(PointsEntry.order_id, func.sum(PointsEntry.amount))
        .where(PointsEntry.helper_id == helper_id, PointsEntry.order_id.in_(order_ids))
        .group_by(PointsEntry.order_id)
    )
    return {order_id: int(total or 0) for order_id, total in session.execute(query) if order_id}


def _helper(session: Session, actor: Actor, helper_id: int) -> HelperRow:
    if actor.role == Role.HELPER:
        row = session.get(HelperRow, helper_id)
        if row is None or actor.helper_id != helper_id:
            raise NotFound(_("helper %(helper_id)s not found", helper_id=helper_id))
        return row
    found: HelperRow = scoped_row(session, actor, HelperRow, helper_id)
    return found
