"""Redeeming points (积分兑换): a debit and a receipt, checked by the shop; cancellation
reverses both.

Every change takes the street's write lock (``begin_write``: on PostgreSQL the street's
advisory lock, on SQLite the database's one writer), then reads the balance and the stock
afresh, so two redemptions never both spend the same points or the last item. Under the lock
the stock still changes by compare-and-set (``stock >= quantity``), and the database's CHECK
keeps it at 0 or above whatever happens. The points ledger stays append-only: a redemption adds
a ``redemption`` entry (negative), a cancellation adds that entry's reversal (positive).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from api.i18n import N_
from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.closing.points import balance
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.hours import totals
from api.services.ledger.views import scoped_row
from api.services.paging import Page, fetch_page
from api.services.shop.items import staff_keeps
from api.services.types import UtcDateTime
from api.services.wishes.partners import stored_in_both
from api.store.db import begin_write
from api.store.statuses import PointsKind, RedemptionStatus, Role
from api.store.tables import HelperRow, PointsEntry, RedemptionRow, ShopItemRow, utcnow

log = logging.getLogger("qunbang.shop")
MAX_QUANTITY = 10  # of one item in one redemption
# Receipt codes: 8 characters without look-alikes (no 0/O, 1/I/L), about 40 bits.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


@dataclass(frozen=True)
class RedemptionView:
    id: int
    code: str  # as printed: "ABCD-EFGH"
    item_id: int
    item_name: str
    quantity: int
    points: int
    status: str
    helper_id: int
    helper_name: str
    created_at: UtcDateTime
    used_at: UtcDateTime | None
    cancelled_at: UtcDateTime | None
    balance: int  # the helper's balance after it


def redeem(
    session: Session,
    actor: Actor,
    item_id: int,
    quantity: int = 1,
    *,
    helper_id: int | None = None,
    now: dt.datetime | None = None,
) -> RedemptionView:
    """Spend points on ``quantity`` of an item: a helper for themselves, or staff at the
    counter for a helper of their scope (``helper_id``). ``Conflict`` when the balance or the
    stock is short at that moment; nothing is written then."""
    now = now or utcnow()
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise BadInput(_("quantity is a whole number"), "quantity")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise BadInput(_("quantity is 1 to %(most)s", most=MAX_QUANTITY), "quantity")
    helper = _redeemer(session, actor, helper_id)
    # Sold out already: refused without queueing for the lock (stock only grows again by a
    # cancellation or staff, after which a new attempt succeeds).
    if _item(session, actor, helper, item_id).stock < quantity:
        raise _sold_out(session, item_id)
    begin_write(session, helper.street_id)
    item = _item(session, actor, helper, item_id)
    total = item.price * quantity
    held = balance(session, helper.id)
    if held < total:
        raise Conflict(
            _("not enough points: %(held)s held, %(total)s needed", held=held, total=total)
        )
    _take_stock(session, item, quantity)
    debit = PointsEntry(
        helper_id=helper.id,
        amount=-total,
        kind=PointsKind.REDEMPTION,
        reason=stored_in_both(
            N_("points shop: %(quantity)s × %(item)s"), quantity=quantity, item=item.name
        ),
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(debit)
    session.flush()
    totals.add_points(session, [debit.id])  # counts for nothing (earned): added all the same
    row = RedemptionRow(
        street_id=helper.street_id,
        item_id=item.id,
        helper_id=helper.id,
        quantity=quantity,
        points=total,
        code=_new_code(session),
        debit_entry_id=debit.id,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit(session, actor.user_id, "shop.redeem", "redemption", row.id, _detail(row))
    session.commit()
    log.info("helper %s redeemed %s × item %s for %s points", helper.id, quantity, item.id, total)
    return _view(session, row)


def cancel(
    session: Session,
    actor: Actor,
    redemption_id: int,
    now: dt.datetime | None = None,
) -> RedemptionView:
    """Cancel an unused receipt: its debit's reversal is appended (the points come back) and the
    stock restored. The helper may cancel their own; staff those of their counters."""
    now = now or utcnow()
    row = _for_actor(session, actor, redemption_id, write=True)
    if row.status != RedemptionStatus.ISSUED:
        raise _not_issued(row)
    refund = PointsEntry(
        helper_id=row.helper_id,
        amount=row.points,
        kind=PointsKind.REVERSAL,
        reverses_id=row.debit_entry_id,
        reason=stored_in_both(
            N_("points shop: receipt %(code)s cancelled"), code=show_code(row.code)
        ),
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(refund)
    session.flush()
    _set_status(
        session,
        row,
        status=RedemptionStatus.CANCELLED,
        refund_entry_id=refund.id,
        cancelled_at=now,
        cancelled_by=actor.user_id,
    )
    totals.add_points(session, [refund.id])  # the receipt names it now: counts for nothing
    session.execute(
        update(ShopItemRow)
        .where(ShopItemRow.id == row.item_id)
        .values(stock=ShopItemRow.stock + row.quantity)
        .execution_options(synchronize_session=False)
    )
    audit(session, actor.user_id, "shop.cancel", "redemption", row.id, _detail(row))
    session.commit()
    return _view(session, row)


def find_receipt(session: Session, actor: Actor, code: str) -> RedemptionView:
    """Staff at the counter look a receipt up by its code (any case, with or without the dash)."""
    return _view(session, _by_code(session, actor, code))


def use_receipt(
    session: Session, actor: Actor, code: str, now: dt.datetime | None = None
) -> RedemptionView:
    """The shop handed the item over: the receipt is used (once; ``Conflict`` after)."""
    row = _by_code(session, actor, code, write=True)
    if row.status != RedemptionStatus.ISSUED:
        raise _not_issued(row)
    _set_status(
        session, row, status=RedemptionStatus.USED, used_at=now or utcnow(), used_by=actor.user_id
    )
    audit(session, actor.user_id, "shop.use", "redemption", row.id, _detail(row))
    session.commit()
    return _view(session, row)


def redemptions(
    session: Session, actor: Actor, page: int = 1, page_size: int = 50
) -> Page[RedemptionView]:
    """Receipts, newest first: a helper's own; staff those of the counters they keep."""
    rows, total = fetch_page(
        session, _visible(actor).order_by(RedemptionRow.id.desc()), page, page_size
    )
    return Page([_view(session, r) for r in rows], total, page, page_size)


def show_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


# ----------------------------------------------------------------------------- inside


def _take_stock(session: Session, item: ShopItemRow, quantity: int) -> None:
    """Compare-and-set: only a stock of at least ``quantity`` is lowered."""
    left = session.scalar(
        update(ShopItemRow)
        .where(ShopItemRow.id == item.id, ShopItemRow.stock >= quantity)
        .values(stock=ShopItemRow.stock - quantity)
        .returning(ShopItemRow.stock)
        .execution_options(synchronize_session=False)
    )
    if left is None:
        raise _sold_out(session, item.id)
    session.refresh(item)


def _item(session: Session, actor: Actor, helper: HelperRow, item_id: int) -> ShopItemRow:
    """The active item of the helper's street (and of the staff member's counters), read anew."""
    item = session.get(ShopItemRow, item_id, populate_existing=True)
    if item is None or item.street_id != helper.street_id or not item.active:
        raise NotFound(_("item %(id)s not found", id=item_id), "item_id")
    if actor.role == Role.STAFF and not staff_keeps(actor, item):
        raise NotFound(_("item %(id)s not found", id=item_id), "item_id")
    return item


def _sold_out(session: Session, item_id: int) -> Conflict:
    session.rollback()
    name = session.scalar(select(ShopItemRow.name).where(ShopItemRow.id == item_id))
    return Conflict(_("%(item)s is sold out", item=name))


def _not_issued(row: RedemptionRow) -> Conflict:
    code = show_code(row.code)
    if row.status == RedemptionStatus.USED:
        return Conflict(_("receipt %(code)s was used already", code=code))
    return Conflict(_("receipt %(code)s was cancelled", code=code))


def _set_status(session: Session, row: RedemptionRow, **values: Any) -> None:
    changed = session.scalar(
        update(RedemptionRow)
        .where(RedemptionRow.id == row.id, RedemptionRow.status == RedemptionStatus.ISSUED)
        .values(**values)
        .returning(RedemptionRow.id)
        .execution_options(synchronize_session=False)
    )
    if changed is None:
        raise Conflict(_("receipt %(code)s changed meanwhile", code=show_code(row.code)))
    session.refresh(row)


def _new_code(session: Session) -> str:
    """A fresh receipt code (the unique index refuses a repeat; one in 10^12 draws repeats)."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(select(RedemptionRow.id).where(RedemptionRow.code == code)) is None:
            return code


def _redeemer(session: Session, actor: Actor, helper_id: int | None) -> HelperRow:
    if actor.role == Role.HELPER:
        if helper_id not in (None, actor.helper_id):
            raise Forbidden(_("a helper redeems their own points"))
        helper = session.get(HelperRow, actor.own_helper_id())
    elif actor.role == Role.STAFF:
        if helper_id is None:
            raise BadInput(_("choose the helper who redeems"), "helper_id")
        helper = scoped_row(session, actor, HelperRow, helper_id)
    else:
        raise Forbidden(_("this account has no points shop"))
    if helper is None or not helper.active:
        raise NotFound(_("helper not found or no longer active"), "helper_id")
    return helper


def _visible(actor: Actor) -> Select[RedemptionRow]:
    query = select(RedemptionRow)
    if actor.role == Role.HELPER:
        return query.where(RedemptionRow.helper_id == actor.own_helper_id())
    if actor.role == Role.STAFF and actor.street_id is not None:
        query = query.where(RedemptionRow.street_id == actor.street_id)
        if actor.community_id is not None:
            query = query.join(ShopItemRow, ShopItemRow.id == RedemptionRow.item_id).where(
                ShopItemRow.community_id == actor.community_id
            )
        return query
    raise Forbidden(_("this account has no points shop"))


def _for_actor(
    session: Session, actor: Actor, redemption_id: int, *, write: bool = False
) -> RedemptionRow:
    row = session.get(RedemptionRow, redemption_id)
    if row is None or not _may_touch(session, actor, row):
        raise NotFound(_("receipt %(id)s not found", id=redemption_id))
    if write:
        begin_write(session, row.street_id)
        session.refresh(row)
    return row


def _by_code(session: Session, actor: Actor, code: str, *, write: bool = False) -> RedemptionRow:
    if actor.role != Role.STAFF:
        raise Forbidden(_("only staff check receipts"))
    clean = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    row = session.scalar(select(RedemptionRow).where(RedemptionRow.code == clean))
    if row is None or not _may_touch(session, actor, row):
        raise NotFound(_("no receipt with code %(code)s", code=code.strip()[:20]), "code")
    if write:
        begin_write(session, row.street_id)
        session.refresh(row)
    return row


def _may_touch(session: Session, actor: Actor, row: RedemptionRow) -> bool:
    if actor.role == Role.HELPER:
        return row.helper_id == actor.helper_id
    if actor.role == Role.STAFF:
        item = session.get(ShopItemRow, row.item_id)
        return item is not None and staff_keeps(actor, item)
    return False


def _detail(row: RedemptionRow) -> dict[str, object]:
    return {
        "item": row.item_id,
        "helper": row.helper_id,
        "quantity": row.quantity,
        "points": row.points,
        "status": row.status,
    }


def _view(session: Session, row: RedemptionRow) -> RedemptionView:
    helper = session.get(HelperRow, row.helper_id)
    return RedemptionView(
        id=row.id,
        code=show_code(row.code),
        item_id=row.item_id,
        item_name=row.item.name,
        quantity=row.quantity,
        points=row.points,
        status=row.status,
        helper_id=row.helper_id,
        helper_name=helper.name if helper else "",
        created_at=row.created_at,
        used_at=row.used_at,
        cancelled_at=row.cancelled_at,
        balance=balance(session, row.helper_id),
    )
