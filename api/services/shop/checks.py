"""The invariants of the points shop and the wish board, run by ``qunbang db check`` with the
database's others (``api.services.matching.invariants`` wraps each finding as a violation).
Each check returns ``(code, message)`` pairs; the docstrings say what must hold."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.store.statuses import PointsKind, RedemptionStatus, WishStatus
from api.store.tables import (
    HelperRow,
    PointsEntry,
    RedemptionRow,
    ShopItemRow,
    WishPaymentRow,
    WishRow,
)

Finding = tuple[str, str]


def stock_never_negative(session: Session, street_id: int | None) -> list[Finding]:
    """No shop item's stock is below 0."""
    query = select(ShopItemRow.id, ShopItemRow.stock).where(ShopItemRow.stock < 0)
    if street_id is not None:
        query = query.where(ShopItemRow.street_id == street_id)
    return [("shop_stock", f"item {i}: stock {stock}") for i, stock in session.execute(query)]


def receipts_match_debits(session: Session, street_id: int | None) -> list[Finding]:
    """Each receipt has its debit: a ``redemption`` entry of its helper for minus its points;
    a cancelled receipt (and only a cancelled one) names the reversal of that debit that
    credited the points back; every ``redemption`` entry, and every reversal of one, belongs to
    exactly one receipt."""
    kinds = (PointsKind.REDEMPTION, PointsKind.REVERSAL)
    entries = {e.id: e for e in _entries(session, street_id, kinds)}
    query = select(RedemptionRow).order_by(RedemptionRow.id)
    if street_id is not None:
        query = query.where(RedemptionRow.street_id == street_id)
    found: list[Finding] = []
    debits: Counter[int] = Counter()
    refunds: Counter[int] = Counter()
    for row in session.scalars(query):
        debit = entries.get(row.debit_entry_id)
        debits[row.debit_entry_id] += 1
        if debit is None or (debit.kind, debit.helper_id, debit.amount) != (
            PointsKind.REDEMPTION,
            row.helper_id,
            -row.points,
        ):
            found.append(
                (
                    "receipt_debit",
                    f"receipt {row.id}: debit {row.debit_entry_id} "
                    f"is not a redemption of {-row.points} for helper {row.helper_id}",
                )
            )
        cancelled = row.status == RedemptionStatus.CANCELLED
        if cancelled != (row.refund_entry_id is not None):
            found.append(
                (
                    "receipt_refund",
                    f"receipt {row.id} is {row.status} with refund {row.refund_entry_id}",
                )
            )
        if row.refund_entry_id is not None:
            refunds[row.refund_entry_id] += 1
            refund = entries.get(row.refund_entry_id)
            if refund is None or (refund.reverses_id, refund.amount) != (
                row.debit_entry_id,
                row.points,
            ):
                found.append(
                    (
                        "receipt_refund",
                        f"receipt {row.id}: refund "
                        f"{row.refund_entry_id} does not reverse {row.debit_entry_id}",
                    )
                )
    for entry in entries.values():
        reversed_ = entries.get(entry.reverses_id) if entry.reverses_id is not None else None
        if entry.kind == PointsKind.REDEMPTION and debits[entry.id] != 1:
            found.append(
                (
                    "receipt_debit",
                    f"redemption entry {entry.id} of helper "
                    f"{entry.helper_id} belongs to {debits[entry.id]} receipts",
                )
            )
        if (
            reversed_ is not None
            and reversed_.kind == PointsKind.REDEMPTION
            and (refunds[entry.id] != 1)
        ):
            found.append(
                (
                    "receipt_refund",
                    f"reversal {entry.id} of redemption entry "
                    f"{reversed_.id} is no cancelled receipt's refund",
                )
            )
    return found


def wishes_paid_once(session: Session, street_id: int | None) -> list[Finding]:
    """Only a confirmed wish has paid points, each payment one ``wish`` entry of the wish's
    points to the paid helper, at most one per wish and helper; a confirmed wish worth points
    claimed by a helper (alone or for a team) paid someone, a lone claimer exactly themselves;
    every ``wish`` entry is one payment's."""
    entries = {e.id: e for e in _entries(session, street_id, (PointsKind.WISH,))}
    query = select(WishRow).order_by(WishRow.id)
    if street_id is not None:
        query = query.where(WishRow.street_id == street_id)
    wishes = {w.id: w for w in session.scalars(query)}
    paid: dict[int, list[WishPaymentRow]] = defaultdict(list)
    for payment in session.scalars(select(WishPaymentRow).order_by(WishPaymentRow.id)):
        if payment.wish_id in wishes:
            paid[payment.wish_id].append(payment)
    found: list[Finding] = []
    paid_entries = set()
    for wish_id, wish in wishes.items():
        payments = paid[wish_id]
        for payment in payments:
            paid_entries.add(payment.entry_id)
            entry = entries.get(payment.entry_id)
            if entry is None or (entry.kind, entry.helper_id, entry.amount) != (
                PointsKind.WISH,
                payment.helper_id,
                wish.points,
            ):
                found.append(
                    (
                        "wish_payment",
                        f"wish {wish_id}: payment {payment.id} is not "
                        f"a wish entry of {wish.points} for helper {payment.helper_id}",
                    )
                )
        confirmed = wish.status == WishStatus.CONFIRMED
        owed = confirmed and wish.points > 0 and wish.claim_helper_id is not None
        lone = wish.claim_team_id is None
        if payments and not confirmed:
            found.append(("wish_unearned", f"wish {wish_id} is {wish.status} but paid points"))
        elif owed and lone and [p.helper_id for p in payments] != [wish.claim_helper_id]:
            found.append(
                (
                    "wish_payment",
                    f"confirmed wish {wish_id} paid "
                    f"{[p.helper_id for p in payments]}, not its claimer "
                    f"{wish.claim_helper_id}",
                )
            )
        elif owed and not payments:
            found.append(("wish_payment", f"confirmed wish {wish_id} paid nobody"))
    for entry in entries.values():
        if entry.kind == PointsKind.WISH and entry.id not in paid_entries:
            found.append(
                (
                    "wish_payment",
                    f"wish entry {entry.id} of helper {entry.helper_id} is no wish's payment",
                )
            )
    return found


def _entries(
    session: Session, street_id: int | None, kinds: tuple[PointsKind, ...]
) -> list[PointsEntry]:
    """The street's entries of these kinds (the ledger's other entries are not the shop's)."""
    query = select(PointsEntry).where(PointsEntry.kind.in_(kinds)).order_by(PointsEntry.id)
    if street_id is not None:
        query = query.join(HelperRow, PointsEntry.helper_id == HelperRow.id).where(
            HelperRow.street_id == street_id
        )
    return list(session.scalars(query))


SHOP_CHECKS: tuple[Callable[[Session, int | None], list[Finding]], ...] = (
    stock_never_negative,
    receipts_match_debits,
    wishes_paid_once,
)


def shop_findings(session: Session, street_id: int | None) -> list[Finding]:
    """Every broken invariant of the shop and the wish board."""
    return [finding for check in SHOP_CHECKS for finding in check(session, street_id)]
