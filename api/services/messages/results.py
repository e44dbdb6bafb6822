"""The result fed back (结果反馈) and the owners' messages: what the people around an order are
told, each once (a dedupe key per order, kind and recipient), in the outbox beside the change it
announces.

- Whoever ordered (``order_requesters``) is told when the order is matched (its first member
  accepted: ``offers.answers.accept``, a claim), when it is done (staff confirmed the visit:
  ``closing.visits.confirm_done``) and when it cannot be done (staff cancelled it:
  ``offers.dispatch.cancel_order``; or its deadline passed with no result: the ticker,
  ``messages.watch``).
- The order's owner (``orders.owner_id``) is told when the order is at risk or overdue, and a
  follow-up's owner when the visit is overdue (the ticker, ``messages.watch``).

Texts come from the catalogs in every language the outbox stores; the reader's pages show the
one of their language (``users.language`` first). Imports the store and the outbox only: the
offers and closing services call it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, lazyload

from api.i18n import N_, format_day, pick, use_locale
from api.i18n import gettext as _
from api.services.messages.notify import enqueue
from api.store.statuses import FamilyLinkStatus, NotificationKind, Role
from api.store.tables import FamilyLinkRow, ItemRow, OrderRow, UserRow

LOCALES = ("zh_CN", "en")  # the outbox keeps a text in each (text_zh, text_en)

# What the requester is told, by kind (and, for "not done", by cause).
RESULTS: dict[str, str] = {
    NotificationKind.MATCHED: N_(
        "Good news: a volunteer has taken your request %(item)s (%(when)s)."
    ),
    NotificationKind.COMPLETED: N_("Done: your request %(item)s (%(when)s) has been completed."),
    NotificationKind.NOT_DONE: N_("Sorry: your request %(item)s (%(when)s) cannot be done."),
    "cancelled": N_("Sorry: your request %(item)s (%(when)s) was cancelled by the office."),
    "cancelled_because": N_(
        "Sorry: your request %(item)s (%(when)s) was cancelled by the office: %(reason)s"
    ),
    "rejected": N_(
        "Sorry: your request %(item)s (%(when)s) was not taken on by the office: %(reason)s"
    ),
    "overdue": N_(
        "Sorry: your request %(item)s (%(when)s) could not be arranged in the promised time. "
        "The office will contact you."
    ),
}
# What the owner of an order or a follow-up visit is told, by kind.
OWNER_NOTICES: dict[str, str] = {
    NotificationKind.ORDER_AT_RISK: N_(
        "At risk: order %(order_id)s (%(item)s, %(when)s) has nobody yet and is due by "
        "%(deadline)s."
    ),
    NotificationKind.ORDER_OVERDUE: N_(
        "Overdue: order %(order_id)s (%(item)s, %(when)s) passed its deadline %(deadline)s "
        "without a result."
    ),
    NotificationKind.FOLLOW_UP_OVERDUE: N_(
        "Overdue: the follow-up visit to %(resident)s (order %(order_id)s) was due on %(due)s."
    ),
}


def order_requesters(session: Session, order: OrderRow) -> list[int]:
    """The users who asked for ``order`` and are told its result: the resident's own active
    account, the active family accounts with an approved link to the resident (亲情代理), and
    a grid worker or family account that entered it. The one place that decides it; one read
    (every accept asks it)."""
    linked = select(FamilyLinkRow.user_id).where(
        FamilyLinkRow.resident_id == order.resident_id,
        FamilyLinkRow.status == FamilyLinkStatus.APPROVED,
    )
    asked = or_(
        and_(UserRow.role == Role.RESIDENT, UserRow.resident_id == order.resident_id),
        UserRow.id.in_(linked),
        and_(UserRow.id == order.placed_by, UserRow.role.in_((Role.GRID_WORKER, Role.FAMILY))),
    )
    query = select(UserRow.id).where(UserRow.active.is_(True), asked).order_by(UserRow.id)
    return list(session.scalars(query))


def requester_key(kind: str, order_id: int, user_id: int) -> str:
    """The dedupe key of a requester's message of ``kind`` about an order."""
    return f"{kind}:order:{order_id}:user:{user_id}"


def owner_key(kind: str, order_id: int) -> str:
    """The dedupe key of the owner's message of ``kind`` about an order (once per order,
    whoever owns it by then)."""
    return f"{kind}:order:{order_id}"


def when(order: OrderRow) -> str:
    """The order's day (and the start of its window) in the current locale."""
    day = format_day(order.date)
    start = order.window_start
    if start is None:
        return day
    return _("%(day)s at %(time)s", day=day, time=f"{start // 60:02d}:{start % 60:02d}")


def _texts(message: str, **params: Any) -> tuple[str, str]:
    """``message`` in each stored language; callable ``params`` are made in that language."""
    texts = []
    for locale in LOCALES:
        with use_locale(locale):
            values = {k: v() if callable(v) else v for k, v in params.items()}
            texts.append(_(message, **values))
    return texts[0], texts[1]


def item_name(session: Session, order: OrderRow) -> Any:
    """The order's item name, made in the language being written. The few items are read once
    per session (the identity map keeps only rows someone holds: a round telling hundreds of
    orders would read the same items again for each)."""
    names: dict[str, tuple[str, str]] = session.info.setdefault("item_names", {})
    if order.item not in names:
        item = session.get_one(ItemRow, order.item)
        names[order.item] = (item.name_zh, item.name_en)
    zh, en = names[order.item]
    return lambda: pick(zh, en)


def tell_requesters(
    session: Session,
    order: OrderRow,
    kind: NotificationKind,
    cause: str | None = None,
    skip: int | None = None,
) -> int:
    """Queue the result of ``kind`` (matched, completed, not done with its ``cause``:
    ``cancelled`` or ``overdue``) for each requester but ``skip`` (who did it themselves);
    each requester is told each kind once per order. The number queued."""
    requesters = [user for user in order_requesters(session, order) if user != skip]
    if not requesters:
        return 0
    message = RESULTS[kind]
    if kind == NotificationKind.NOT_DONE and cause in RESULTS:  # its cause, when known
        message = RESULTS[cause]
        if cause == "cancelled" and order.cancel_reason:
            message = RESULTS["cancelled_because"]
    item = item_name(session, order)
    text_zh, text_en = _texts(
        message,
        item=item,
        when=lambda: when(order),
        reason=order.reject_reason if cause == "rejected" else order.cancel_reason,
    )
    payload: dict[str, Any] = {"order": order.id, "date": order.date.isoformat()}
    if cause:
        payload["cause"] = cause
    queued = 0
    for user_id in requesters:
        queued += (
            enqueue(
                session,
                user_id=user_id,
                kind=kind,
                text_zh=text_zh,
                text_en=text_en,
                payload=payload,
                dedupe_key=requester_key(kind, order.id, user_id),
            )
            is not None
        )
    return queued


def tell_matched(session: Session, order_id: int) -> int:
    """``tell_requesters`` of an order's match, by its id (for writers holding no rows: an
    answer's fast path reads the order alone, not its resident)."""
    order = session.get_one(OrderRow, order_id, options=[lazyload(OrderRow.resident)])
    return tell_requesters(session, order, NotificationKind.MATCHED)


def tell_owner(
    session: Session,
    owner_id: int,
    kind: NotificationKind,
    dedupe_key: str,
    payload: dict[str, Any],
    **params: Any,
) -> bool:
    """Queue an owner's message of ``kind`` once (``dedupe_key``); ``params`` fill its text
    (a callable one is made in each language). True if queued now."""
    text_zh, text_en = _texts(OWNER_NOTICES[kind], **params)
    row = enqueue(
        session,
        user_id=owner_id,
        kind=kind,
        text_zh=text_zh,
        text_en=text_en,
        payload=payload,
        dedupe_key=dedupe_key,
    )
    return row is not None
