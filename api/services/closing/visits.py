"""Closing the loop (五定闭环): staff confirm a visit a helper marked done, which credits each
member's base points (and applies the street's follow-up rules); the resident's feedback; and
the follow-up visits (回访) the rules and low scores schedule (``follow_ups``)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import i18n
from api.i18n import N_, pgettext
from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.circles.totals import refresh_orders
from api.services.closing.follow_ups import schedule_by_rules, schedule_low_score
from api.services.closing.points import credit_base
from api.services.errors import BadInput, Conflict, Forbidden, NotFound, ServiceError
from api.services.hours.ledger import credit_visit
from api.services.messages.results import tell_requesters
from api.services.offers.assign import (
    item_of,
    live_assignment,
    local_today,
    refresh_order_status,
)
from api.services.orders import OrderView, order_view, scoped_order
from api.services.paging import Page, fetch_page
from api.services.types import UtcDateTime
from api.settings import Settings, get_settings
from api.store.db import begin_write
from api.store.statuses import (
    CANCELLABLE_ORDER_STATUSES,
    AssignmentStatus,
    FollowUpStatus,
    NotificationKind,
    OrderStatus,
    Role,
)
from api.store.tables import (
    AssignmentRow,
    FeedbackRow,
    FollowUpRow,
    OrderRow,
    ResidentRow,
    UserRow,
    utcnow,
)

log = logging.getLogger("qunbang.closing")
FOLLOW_UP_STATUSES = ("scheduled", "done")
# The list's filters beyond a status: to do and past due; to do and owned by the caller.
FOLLOW_UP_FILTERS = (*FOLLOW_UP_STATUSES, "overdue", "mine")
# An order takes the resident's feedback once its visit is done (confirmed or not).
FEEDBACK_STATUSES = (OrderStatus.DONE, OrderStatus.CONFIRMED)
CONFIRM_MANY_MAX = 200  # orders confirmed in one go (a page of the staff list is 50)


@dataclass(frozen=True)
class Confirmation:
    order_id: int
    status: str
    confirmed_at: UtcDateTime
    points: dict[int, int]  # helper id -> base points credited


@dataclass(frozen=True)
class Refusal:
    """An order ``confirm_many`` did not confirm: the service's reason, and the order as the
    caller may see it (None: not in their scope, or no such order)."""

    order_id: int
    order: OrderView | None
    message: str


@dataclass(frozen=True)
class ConfirmedMany:
    confirmed: list[Confirmation]
    refused: list[Refusal]


@dataclass(frozen=True)
class NextSteps:
    """What staff may do next to an order in its state: cancel it (still being matched),
    confirm its visit (done by the helpers, not yet confirmed), enter the resident's feedback
    (done or confirmed, none given yet). The same rules ``dispatch.cancel_order``,
    ``confirm_done`` and ``give_feedback`` check; those still decide (the visit's day, a
    colleague who was quicker)."""

    cancel: bool
    confirm: bool
    feedback: bool


@dataclass(frozen=True)
class FeedbackView:
    id: int
    order_id: int
    score: int
    comment: str
    created_at: UtcDateTime
    follow_up_id: int | None
    follow_up_due: dt.date | None


@dataclass(frozen=True)
class FollowUpView:
    id: int
    order_id: int
    resident_id: int
    resident_name: str
    item: str
    order_date: dt.date
    score: int | None
    comment: str
    due_date: dt.date
    status: str
    notes: str
    done_at: UtcDateTime | None
    overdue: bool  # still to do and its due date has passed (street time)
    reason: str = "low_score"  # a FollowUpReason: low score, category or sample
    owner_id: int | None = None
    owner_name: str | None = None


# ----------------------------------------------------------------------------- the visit's day

CLOSING_ACTIONS = {
    "done": N_("the visit is on %(day)s: it can be marked done from that day on"),
    "confirm": N_("the visit is on %(day)s: it can be confirmed from that day on"),
}


def visit_day_reached(settings: Settings, visit_date: dt.date, now: dt.datetime) -> bool:
    """Whether ``visit_date`` has come in the street's time: a visit can be marked done, and
    confirmed, only on or after its day (never the evening before, for tomorrow's visit)."""
    return visit_date <= local_today(settings, now)


def require_visit_day(
    settings: Settings, visit_date: dt.date, now: dt.datetime, action: str
) -> None:
    """``Conflict`` if ``action`` ("done" or "confirm") comes before the visit's day. The one
    rule both ``offers.mark_done`` and ``confirm_done`` ask."""
    if visit_day_reached(settings, visit_date, now):
        return
    raise Conflict(
        _(CLOSING_ACTIONS[action], day=i18n.format_day(visit_date, "long")),
        "date",
    )


# ----------------------------------------------------------------------------- next steps


def next_steps(status: str, has_feedback: bool) -> NextSteps:
    """The steps of the loop an order in ``status`` (with feedback given or not) is open to."""
    return NextSteps(
        cancel=status in CANCELLABLE_ORDER_STATUSES,
        confirm=status == OrderStatus.DONE,
        feedback=status in FEEDBACK_STATUSES and not has_feedback,
    )


# ----------------------------------------------------------------------------- confirmation


def confirm_done(
    session: Session,
    settings: Settings,
    actor: Actor,
    order_id: int,
    now: dt.datetime | None = None,
) -> Confirmation:
    """Confirm a visit a helper marked done and, in the same transaction, credit every member
    who accepted it the item's base points and the visit's hours (``hours.ledger``). A second
    confirmation, or one before the visit's day (street time), is a ``Conflict``."""
    now = now or utcnow()
    begin_write(session)
    order = scoped_order(session, actor, order_id)
    assignment = live_assignment(session, order.id)
    if assignment is None or assignment.status != AssignmentStatus.DONE:
        if order.status == OrderStatus.CONFIRMED:
            raise Conflict(_("order %(order_id)s was confirmed already", order_id=order_id))
        status = pgettext("order_status", order.status)  # its label, as the pages name it
        raise Conflict(
            _("order %(order_id)s is not done (%(status)s)", order_id=order_id, status=status)
        )
    require_visit_day(settings, order.date, now, "confirm")
    # Compare-and-set: of two staff confirming at once, only one moves the assignment on.
    moved = session.execute(
        update(AssignmentRow)
        .where(AssignmentRow.id == assignment.id, AssignmentRow.status == AssignmentStatus.DONE)
        .values(status=AssignmentStatus.CONFIRMED, confirmed_at=now, confirmed_by=actor.user_id)
        .execution_options(synchronize_session="fetch")
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_("order %(order_id)s was confirmed already", order_id=order_id))
    session.refresh(assignment)
    refresh_order_status(session, order)
    members = sorted(o.helper_id for o in assignment.offers if o.status == "accepted")
    item = item_of(session, order)
    points = credit_base(session, actor, order, members, item.points, now)
    hours = credit_visit(session, actor, order, assignment, members, now)
    follow_up = schedule_by_rules(session, settings, order, now)
    tell_requesters(session, order, NotificationKind.COMPLETED)
    follow = follow_up.id if follow_up else None
    detail = {"points": points, "minutes": hours, "follow_up": follow}
    audit(session, actor.user_id, "order.confirm", "order", order.id, detail)
    session.commit()
    log.info("order %s confirmed; base points %s", order.id, points)
    return Confirmation(order.id, order.status, now, points)


def confirm_many(
    session: Session,
    settings: Settings,
    actor: Actor,
    order_ids: list[int],
    now: dt.datetime | None = None,
) -> ConfirmedMany:
    """Confirm each order (each once, in the order given) through ``confirm_done``, each in its
    own transaction: one that is refused (not done, before its day, confirmed already, not in
    the caller's scope) is reported with its reason, and the others are still confirmed."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        raise BadInput(_("tick at least one order to confirm"), "order_ids")
    if len(ids) > CONFIRM_MANY_MAX:
        raise BadInput(_("at most %(count)s orders at once", count=CONFIRM_MANY_MAX), "order_ids")
    confirmed, refused = [], []
    for order_id in ids:
        try:
            confirmed.append(confirm_done(session, settings, actor, order_id, now))
        except ServiceError as refusal:
            session.rollback()
            refused.append(Refusal(order_id, _visible(session, actor, order_id), refusal.message))
    return ConfirmedMany(confirmed, refused)


def _visible(session: Session, actor: Actor, order_id: int) -> OrderView | None:
    """The order as ``actor`` may see it, or None."""
    try:
        return order_view(session, scoped_order(session, actor, order_id))
    except NotFound:
        return None


# ----------------------------------------------------------------------------- feedback


def give_feedback(
    session: Session,
    settings: Settings,
    actor: Actor,
    order_id: int,
    score: int,
    comment: str = "",
    now: dt.datetime | None = None,
) -> FeedbackView:
    """Record the resident's satisfaction (1-5) once per done or confirmed order. A score at or
    below ``settings.low_score_threshold`` schedules a follow-up visit."""
    now = now or utcnow()
    begin_write(session)
    order = scoped_order(session, actor, order_id)
    if not 1 <= score <= 5:
        raise BadInput(_("score must be 1..5"), "score")
    if order.status not in FEEDBACK_STATUSES:
        raise Conflict(_("order %(order_id)s is not done yet", order_id=order_id))
    feedback = FeedbackRow(
        order_id=order.id, score=score, comment=comment, given_by=actor.user_id, created_at=now
    )
    try:
        with session.begin_nested():  # one feedback per order (unique order_id)
            session.add(feedback)
            session.flush()
    except IntegrityError as error:
        raise Conflict(_("order %(order_id)s already has feedback", order_id=order_id)) from error
    refresh_orders(session, [order.id])  # the team's circle totals: one more score
    follow_up = None
    if score <= settings.low_score_threshold:
        follow_up = schedule_low_score(session, settings, order, feedback.id, now)
    detail = {"score": score, "follow_up": follow_up.id if follow_up else None}
    audit(session, actor.user_id, "feedback.give", "order", order.id, detail)
    session.commit()
    return FeedbackView(
        id=feedback.id,
        order_id=order.id,
        score=score,
        comment=comment,
        created_at=feedback.created_at,
        follow_up_id=follow_up.id if follow_up else None,
        follow_up_due=follow_up.due_date if follow_up else None,
    )


# ----------------------------------------------------------------------------- follow-up visits


def list_follow_ups(
    session: Session,
    actor: Actor,
    status: str | None = None,
    page: int = 1,
    page_size: int = 50,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> Page[FollowUpView]:
    """Follow-up visits of the staff member's street (or community; a grid worker's grid),
    soonest due first (``settings``: the street's clock, for which are overdue, default the
    service's; ``now``: the time, default the clock's).
    ``status``: scheduled, done, ``overdue`` (scheduled and past due), ``mine`` (scheduled and
    owned by the caller), or None for all."""
    if status is not None and status not in FOLLOW_UP_FILTERS:
        raise BadInput(
            _("status must be one of %(FOLLOW_UP_STATUSES)s", FOLLOW_UP_STATUSES=FOLLOW_UP_FILTERS)
        )
    today = local_today(settings or get_settings(), now)
    stmt = (
        select(FollowUpRow)
        .join(OrderRow, OrderRow.id == FollowUpRow.order_id)
        .join(ResidentRow, ResidentRow.id == OrderRow.resident_id)
        .where(
            actor.person_scope(OrderRow.street_id, ResidentRow.community_id, ResidentRow.grid_id)
        )
    )
    if actor.role not in (Role.STAFF, Role.GRID_WORKER):
        raise Forbidden(_("only staff and grid workers see follow-up visits"))
    if status in FOLLOW_UP_STATUSES:
        stmt = stmt.where(FollowUpRow.status == status)
    elif status == "overdue":
        stmt = stmt.where(
            FollowUpRow.status == FollowUpStatus.SCHEDULED, FollowUpRow.due_date < today
        )
    elif status == "mine":
        stmt = stmt.where(
            FollowUpRow.status == FollowUpStatus.SCHEDULED, FollowUpRow.owner_id == actor.user_id
        )
    stmt = stmt.order_by(FollowUpRow.due_date, FollowUpRow.id)
    rows, total = fetch_page(session, stmt, page, page_size)
    owners = _owner_names(session, {row.owner_id for row in rows if row.owner_id})
    held = _load_for_views(session, rows)
    views = [_follow_up_view(session, actor, row, today, owners) for row in rows]
    del held  # held until the views are built
    return Page(views, total, page, page_size)


def reschedule_follow_up(
    session: Session,
    settings: Settings,
    actor: Actor,
    follow_up_id: int,
    due: dt.date,
    now: dt.datetime | None = None,
) -> FollowUpView:
    """Move a follow-up visit still to do to another day: today (street time) or later, within
    a year."""
    now = now or utcnow()
    today = local_today(settings, now)
    if not today <= due <= today + dt.timedelta(days=366):
        raise BadInput(_("a follow-up is due from today to a year ahead"), "due_date")
    begin_write(session)
    follow_up = _scoped_follow_up(session, actor, follow_up_id)
    if follow_up.status == "done":
        raise Conflict(_("follow-up %(follow_up_id)s is done already", follow_up_id=follow_up_id))
    before = follow_up.due_date
    follow_up.due_date = due
    detail = {"from": before.isoformat(), "to": due.isoformat()}
    audit(session, actor.user_id, "follow_up.reschedule", "follow_up", follow_up.id, detail)
    session.commit()
    return _follow_up_view(session, actor, follow_up, today)


def _scoped_follow_up(session: Session, actor: Actor, follow_up_id: int) -> FollowUpRow:
    """The follow-up, locked (PostgreSQL: two staff acting on it at once cannot both succeed),
    if the caller may see its order; else ``NotFound``."""
    follow_up = session.get(FollowUpRow, follow_up_id, with_for_update=True)
    if follow_up is None:
        raise NotFound(_("follow-up %(follow_up_id)s not found", follow_up_id=follow_up_id))
    try:
        scoped_order(session, actor, follow_up.order_id)
    except NotFound as error:
        raise NotFound(
            _("follow-up %(follow_up_id)s not found", follow_up_id=follow_up_id)
        ) from error
    return follow_up


def complete_follow_up(
    session: Session,
    actor: Actor,
    follow_up_id: int,
    notes: str = "",
    now: dt.datetime | None = None,
) -> FollowUpView:
    """Record that the follow-up visit took place, with what was found."""
    now = now or utcnow()
    begin_write(session)
    follow_up = _scoped_follow_up(session, actor, follow_up_id)
    if follow_up.status == "done":
        raise Conflict(_("follow-up %(follow_up_id)s is done already", follow_up_id=follow_up_id))
    follow_up.status, follow_up.notes = "done", notes
    follow_up.done_at, follow_up.done_by = now, actor.user_id
    audit(session, actor.user_id, "follow_up.done", "follow_up", follow_up.id)
    session.commit()
    return _follow_up_view(session, actor, follow_up)


def _owner_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    """The accounts' names as pages show them (display name, else login), in one read."""
    if not user_ids:
        return {}
    found = session.execute(
        select(UserRow.id, UserRow.display_name, UserRow.username).where(UserRow.id.in_(user_ids))
    )
    return {user_id: shown or login for user_id, shown, login in found}


def _load_for_views(session: Session, rows: list[FollowUpRow]) -> list[object]:
    """The page's orders (with their residents) and feedback in one read each. The session's
    identity map holds them only while someone refers to them: the caller keeps the list while
    ``_follow_up_view`` looks them up by id, which then asks nothing of the database."""
    order_ids = sorted({row.order_id for row in rows})
    feedback_ids = sorted({row.feedback_id for row in rows if row.feedback_id})
    held: list[object] = []
    if order_ids:
        held += session.scalars(select(OrderRow).where(OrderRow.id.in_(order_ids))).unique()
    if feedback_ids:
        held += session.scalars(select(FeedbackRow).where(FeedbackRow.id.in_(feedback_ids)))
    return held


def _follow_up_view(
    session: Session,
    actor: Actor,
    row: FollowUpRow,
    today: dt.date | None = None,
    owners: dict[int, str] | None = None,
) -> FollowUpView:
    order = order_view(session, scoped_order(session, actor, row.order_id))
    feedback = session.get(FeedbackRow, row.feedback_id) if row.feedback_id else None
    if owners is None and row.owner_id is not None:
        owners = _owner_names(session, {row.owner_id})
    return FollowUpView(
        id=row.id,
        order_id=order.id,
        resident_id=order.resident_id,
        resident_name=order.resident_name,
        item=order.item,
        order_date=order.date,
        score=feedback.score if feedback else None,
        comment=feedback.comment if feedback else "",
        due_date=row.due_date,
        status=row.status,
        notes=row.notes,
        done_at=row.done_at,
        overdue=row.status == "scheduled" and today is not None and row.due_date < today,
        reason=row.reason,
        owner_id=row.owner_id,
        owner_name=(owners or {}).get(row.owner_id) if row.owner_id else None,
    )
