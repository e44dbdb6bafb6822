"""The points ledger (积分): base points per confirmed visit plus points the organisation grants
(基础积分 + 组织赠分). Append-only (the database refuses UPDATE and DELETE): a correction is a
reversing entry, at most one per entry. A balance is the sum of a helper's entries."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, NotFound
from api.services.hours import totals
from api.services.hours.totals import earned as earned  # what the roll and report count
from api.services.ledger.views import scoped_row
from api.services.orders import scoped_order
from api.services.paging import fetch_page
from api.services.types import UtcDateTime
from api.store.db import begin_write
from api.store.statuses import PointsKind
from api.store.tables import HelperRow, OrderRow, PointsEntry, utcnow

log = logging.getLogger("qunbang.points")
# Far above any real bonus, far below what the INTEGER balance column holds.
MAX_BONUS = 100_000
MAX_REASON = 2000  # characters of a bonus's or a correction's reason


@dataclass(frozen=True)
class EntryView:
    id: int
    helper_id: int
    amount: int
    kind: str
    order_id: int | None
    reverses_id: int | None
    reversed_by: int | None  # the entry that reverses this one, if any
    reason: str
    created_at: UtcDateTime


@dataclass(frozen=True)
class PointsHistory:
    helper_id: int
    balance: int
    items: list[EntryView]
    total: int
    page: int
    page_size: int


def credit_base(
    session: Session,
    actor: Actor,
    order: OrderRow,
    helper_ids: Iterable[int],
    amount: int,
    now: dt.datetime,
) -> dict[int, int]:
    """Add one ``base`` entry of ``amount`` per helper for ``order`` (none when the item earns
    nothing). Part of the caller's transaction; returns helper id -> points credited."""
    if amount <= 0:
        return {}
    credited, entries = {}, []
    for helper_id in dict.fromkeys(helper_ids):
        reason = _("base points for order %(id)s (%(item)s)", id=order.id, item=order.item)
        entries.append(_entry(helper_id, amount, "base", order.id, None, reason, actor, now))
        session.add(entries[-1])
        credited[helper_id] = amount
    session.flush()
    totals.add_points(session, [entry.id for entry in entries])
    return credited


def grant_bonus(
    session: Session,
    actor: Actor,
    helper_id: int,
    amount: int,
    reason: str,
    order_id: int | None = None,
    now: dt.datetime | None = None,
) -> EntryView:
    """Points granted by the organisation (组织赠分) to a helper of the staff member's street."""
    now = now or utcnow()
    begin_write(session)
    helper = helper_for_staff(session, actor, helper_id)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise BadInput(_("amount must be a positive whole number"), "amount")
    if amount > MAX_BONUS:
        raise BadInput(_("a bonus is at most %(most)s points", most=MAX_BONUS), "amount")
    reason = ledger_reason(reason)
    if order_id is not None:
        try:
            scoped_order(session, actor, order_id)
        except NotFound as error:
            raise NotFound(error.message, "order_id") from error
    entry = _entry(helper.id, amount, "bonus", order_id, None, reason, actor, now)
    session.add(entry)
    session.flush()
    totals.add_points(session, [entry.id])
    audit(session, actor.user_id, "points.bonus", "points_entry", entry.id, _detail(entry))
    session.commit()
    log.info("bonus %s points to helper %s by user %s", amount, helper.id, actor.user_id)
    return _view(entry, None)


def reverse_entry(
    session: Session,
    actor: Actor,
    entry_id: int,
    reason: str,
    now: dt.datetime | None = None,
) -> EntryView:
    """Correct an entry by adding its opposite. An entry is reversed at most once (``Conflict``);
    a reversal itself cannot be reversed (``BadInput``): grant a new entry instead."""
    now = now or utcnow()
    begin_write(session)
    original = session.get(PointsEntry, entry_id)
    if original is None:
        raise NotFound(_("points entry %(entry_id)s not found", entry_id=entry_id))
    try:
        helper_for_staff(session, actor, original.helper_id)
    except NotFound as error:
        raise NotFound(_("points entry %(entry_id)s not found", entry_id=entry_id)) from error
    if original.kind == "reversal":
        raise BadInput(_("a reversal cannot be reversed"), "entry_id")
    if original.kind == PointsKind.REDEMPTION:  # the shop's receipt must be cancelled with it
        raise BadInput(_("cancel the shop receipt instead"), "entry_id")
    reversed_by = select(PointsEntry.id).where(PointsEntry.reverses_id == original.id)
    if session.scalars(reversed_by).first() is not None:  # said before "spent": it is why
        raise Conflict(_("points entry %(entry_id)s was reversed already", entry_id=entry_id))
    if original.amount > balance(session, original.helper_id):
        raise Conflict(_("the helper has spent these points: the balance would be negative"))
    reason = ledger_reason(reason)
    reversal = _entry(
        original.helper_id,
        -original.amount,
        "reversal",
        original.order_id,
        original.id,
        reason,
        actor,
        now,
    )
    try:
        with session.begin_nested():  # reverses_id is unique: one reversal per entry
            session.add(reversal)
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            _("points entry %(entry_id)s was reversed already", entry_id=entry_id)
        ) from error
    totals.add_points(session, [reversal.id])
    audit(session, actor.user_id, "points.reverse", "points_entry", reversal.id, _detail(reversal))
    session.commit()
    return _view(reversal, None)


def balance(session: Session, helper_id: int) -> int:
    """A helper's points: the sum of all their entries."""
    total = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
            PointsEntry.helper_id == helper_id
        )
    )
    return int(total or 0)


def history(
    session: Session, actor: Actor, helper_id: int, page: int = 1, page_size: int = 50
) -> PointsHistory:
    """A helper's balance and entries, newest first. Helpers read only their own; staff read the
    helpers of their street."""
    if actor.role == "helper":
        if actor.helper_id != helper_id:
            raise NotFound(_("helper %(helper_id)s not found", helper_id=helper_id))
    else:
        helper_for_staff(session, actor, helper_id)
    stmt = (
        select(PointsEntry)
        .where(PointsEntry.helper_id == helper_id)
        .order_by(PointsEntry.id.desc())
    )
    rows, total = fetch_page(session, stmt, page, page_size)
    reversed_by = dict(
        session.execute(
            select(PointsEntry.reverses_id, PointsEntry.id).where(
                PointsEntry.reverses_id.in_([row.id for row in rows])
            )
        ).all()
    )
    items = [_view(row, reversed_by.get(row.id)) for row in rows]
    return PointsHistory(helper_id, balance(session, helper_id), items, total, page, page_size)


def helper_for_staff(session: Session, actor: Actor, helper_id: int) -> HelperRow:
    """Staff act on the helpers in their scope (the street, or their community only), as
    everywhere in the ledger; ``NotFound`` for any other."""
    try:
        helper: HelperRow = scoped_row(session, actor, HelperRow, helper_id)
    except NotFound as error:
        raise NotFound(error.message, "helper_id") from error
    return helper


def ledger_reason(reason: str) -> str:
    """A ledger entry's reason as staff typed it: required, at most ``MAX_REASON`` characters."""
    reason = (reason or "").strip()
    if not reason:
        raise BadInput(_("a reason is required"), "reason")
    if len(reason) > MAX_REASON:
        raise BadInput(_("a reason is at most %(most)s characters", most=MAX_REASON), "reason")
    return reason


def _entry(
    helper_id: int,
    amount: int,
    kind: str,
    order_id: int | None,
    reverses_id: int | None,
    reason: str,
    actor: Actor,
    now: dt.datetime,
) -> PointsEntry:
    return PointsEntry(
        helper_id=helper_id,
        amount=amount,
        kind=kind,
        order_id=order_id,
        reverses_id=reverses_id,
        reason=reason,
        created_by=actor.user_id,
        created_at=now,
    )


def _detail(entry: PointsEntry) -> dict[str, object]:
    return {
        "helper": entry.helper_id,
        "amount": entry.amount,
        "kind": entry.kind,
        "order": entry.order_id,
        "reverses": entry.reverses_id,
    }


def _view(entry: PointsEntry, reversed_by: int | None) -> EntryView:
    return EntryView(
        id=entry.id,
        helper_id=entry.helper_id,
        amount=entry.amount,
        kind=entry.kind,
        order_id=entry.order_id,
        reverses_id=entry.reverses_id,
        reversed_by=reversed_by,
        reason=entry.reason,
        created_at=entry.created_at,
    )
