"""The review step (社区下单): where the street reviews orders (``streets.review_orders``), an
order a resident, a family member or a grid worker entered waits in ``review`` until community
staff approve it (it enters matching, and the approver owns it: 首接负责), edit it and approve it,
or reject it with a reason its requester reads on their pages. Staff orders skip review
(``orders.intake_status``)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.i18n import pgettext
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden
from api.services.messages.results import tell_requesters
from api.services.orders import (
    OrderFilters,
    OrderView,
    _active_item,
    _check_date,
    _check_window,
    horizon,
    list_orders,
    order_view,
    scoped_order,
)
from api.services.paging import Page
from api.settings import Settings
from api.store.db import begin_write
from api.store.statuses import NotificationKind, OrderStatus, Role
from api.store.tables import OrderRow, UserRow, utcnow

log = logging.getLogger("qunbang.review")
REASON_MAX = 500
NOTE_MAX = 2000


@dataclass(frozen=True)
class ReviewEdit:
    """What staff change before approving (None: keep the requester's). A window is both ends
    or ``any_time`` (no window)."""

    date: dt.date | None = None
    item: str | None = None
    window_start: int | None = None
    window_end: int | None = None
    any_time: bool = False
    note: str | None = None


def _reviewer(actor: Actor) -> None:
    if actor.role != Role.STAFF:
        raise Forbidden(_("only community staff review orders"))


@dataclass(frozen=True)
class WaitingOrder:
    """An order waiting for review, with who entered it (display name and role)."""

    order: OrderView
    entered_by: str
    entered_role: str


def orders_in_review(
    session: Session, actor: Actor, page: int = 1, page_size: int = 50
) -> Page[WaitingOrder]:
    """The orders waiting for review in the staff member's street (or community), by date,
    each with who entered it."""
    _reviewer(actor)
    found = list_orders(session, actor, OrderFilters(status=OrderStatus.REVIEW), page, page_size)
    ids = {o.placed_by for o in found.items if o.placed_by is not None}
    users = {u.id: u for u in session.scalars(select(UserRow).where(UserRow.id.in_(ids)))}
    waiting = [
        WaitingOrder(
            o,
            users[o.placed_by].display_name if o.placed_by in users else "",
            users[o.placed_by].role if o.placed_by in users else "",
        )
        for o in found.items
    ]
    return Page(waiting, found.total, found.page, found.page_size)


def _waiting(session: Session, actor: Actor, order_id: int) -> OrderRow:
    """The order, in the caller's scope and waiting for review (else ``Conflict`` naming its
    status by its label)."""
    _reviewer(actor)
    order = scoped_order(session, actor, order_id)
    if order.status != OrderStatus.REVIEW:
        status = pgettext("order_status", order.status)
        raise Conflict(
            _(
                "order %(order_id)s is not waiting for review (%(status)s)",
                order_id=order_id,
                status=status,
            )
        )
    return order


def approve_order(
    session: Session,
    settings: Settings,
    actor: Actor,
    order_id: int,
    edit: ReviewEdit | None = None,
    now: dt.datetime | None = None,
) -> OrderView:
    """Approve an order waiting for review, with staff's changes if any: it enters matching
    (``open``) and the approver becomes its owner. Its date must still be in the street's
    horizon (an order whose day passed while it waited needs a new date)."""
    now = now or utcnow()
    begin_write(session)
    order = _waiting(session, actor, order_id)
    changes = _apply(session, order, edit or ReviewEdit())
    _check_date(horizon(session, settings, order.street_id, now), order.date)
    order.status = OrderStatus.OPEN
    order.owner_id = actor.user_id
    order.reviewed_by, order.reviewed_at = actor.user_id, now
    order.first_date = order.date
    order.version += 1
    audit(session, actor.user_id, "order.approve", "order", order.id, {"changes": changes})
    session.commit()
    log.info("order %s approved by user %s", order.id, actor.user_id)
    return order_view(session, order)


def _apply(session: Session, order: OrderRow, edit: ReviewEdit) -> dict[str, Any]:
    """Staff's changes written on the order (checked as a new order's are); what changed."""
    item = _active_item(
        session, order.street_id, edit.item if edit.item is not None else order.item
    )
    start, end = order.window_start, order.window_end
    if edit.any_time:
        start = end = None
    elif edit.window_start is not None or edit.window_end is not None:
        start, end = edit.window_start, edit.window_end
    _check_window(item, start, end, order.priority)
    wanted: dict[str, Any] = {
        "item": item.code,
        "date": edit.date if edit.date is not None else order.date,
        "window_start": start,
        "window_end": end,
        "note": edit.note.strip() if edit.note is not None else order.note,
    }
    if len(wanted["note"]) > NOTE_MAX:
        raise BadInput(_("the note is too long"), "note")
    changes = {}
    for name, value in wanted.items():
        if getattr(order, name) != value:
            before = getattr(order, name)
            changes[name] = [_plain(before), _plain(value)]
            setattr(order, name, value)
    if changes.keys() & {"window_start", "window_end"}:
        order.flexible = start is not None
    return changes


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def reject_order(
    session: Session,
    actor: Actor,
    order_id: int,
    reason: str,
    now: dt.datetime | None = None,
) -> OrderView:
    """Reject an order waiting for review, with the reason its requester reads."""
    now = now or utcnow()
    reason = reason.strip()
    if not reason:
        raise BadInput(_("say why the order is rejected: the requester reads it"), "reason")
    if len(reason) > REASON_MAX:
        raise BadInput(_("at most %(count)s characters", count=REASON_MAX), "reason")
    begin_write(session)
    order = _waiting(session, actor, order_id)
    order.status, order.reject_reason = OrderStatus.REJECTED, reason
    order.reviewed_by, order.reviewed_at = actor.user_id, now
    order.version += 1
    audit(session, actor.user_id, "order.reject", "order", order.id, {"reason": reason})
    tell_requesters(session, order, NotificationKind.NOT_DONE, cause="rejected")
    session.commit()
    log.info("order %s rejected by user %s", order.id, actor.user_id)
    return order_view(session, order)
