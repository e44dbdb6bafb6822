"""Sending the notification outbox, and reading it.

Messages are queued by ``api.services.messages.notify.enqueue`` in the same transaction as the
change they
announce; ``send_pending`` hands the due ones to the configured ``Sender`` — ``LogSender`` (the
default: one log line per message, no real SMS) or ``WebhookSender`` (a JSON POST).

A message is due while it is pending and its ``next_attempt_at`` is unset or past. A sender first
claims it (compare-and-set: ``next_attempt_at`` moves ``CLAIM`` ahead, so no other sender picks
it), sends it outside any transaction (a slow webhook must not hold the database's write lock),
then records the outcome in a short transaction of its own, if its claim still stands: ``sent``,
or one more failed attempt with a back-off (1 min, 2, 4 … at most 1 h, with jitter) until
``MAX_ATTEMPTS`` failures make it ``failed``. Staff may then ``resend`` it.

Delivery is at least once: if the process dies between sending and recording, the claim runs
out and the message goes again, so a receiver should de-duplicate by the message ``id``.
``attempts`` counts failed tries only.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.ledger.views import fetch_page
from api.services.messages.lease import begin_row_write
from api.services.paging import Page
from api.services.types import UtcDateTime
from api.settings import Settings
from api.store.statuses import NotificationStatus, Role
from api.store.tables import HelperRow, NotificationRow, ResidentRow, UserRow, utcnow

log = logging.getLogger("qunbang.outbox")
notify_log = logging.getLogger("qunbang.notify")
MAX_ATTEMPTS = 8  # failures: after 1, 2, 4, 8, 16, 32 and 60 min of waiting, about 2 h in all
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=1)
JITTER = 0.2  # a back-off is shortened by up to this share, at random
CLAIM = dt.timedelta(minutes=5)  # a claimed message is not picked again for this long
WEBHOOK_TIMEOUT_S = 5.0
_RNG = random.Random()


class Sender(Protocol):
    """Delivers one message; raises on failure (the outbox records the error and retries)."""

    def send(self, message: NotificationRow) -> None: ...


def message_body(message: NotificationRow) -> dict[str, Any]:
    return {
        "id": message.id,
        "helper_id": message.helper_id,
        "user_id": message.user_id,
        "kind": message.kind,
        "text_zh": message.text_zh,
        "text_en": message.text_en,
        "payload": message.payload,
    }


class LogSender:
    """Writes one line per message to the ``qunbang.notify`` log (no SMS leaves the server)."""

    def send(self, message: NotificationRow) -> None:
        notify_log.info(
            "notify id=%s helper=%s user=%s kind=%s: %s",
            message.id,
            message.helper_id,
            message.user_id,
            message.kind,
            message.text_zh,
        )


class WebhookSender:
    """POSTs each message as JSON to ``url``; any non-2xx answer or network error is a failure."""

    def __init__(
        self, url: str, timeout: float = WEBHOOK_TIMEOUT_S, client: httpx.Client | None = None
    ) -> None:
        self.url = url
        self.owns_client = client is None
        self.client = client or httpx.Client(timeout=timeout)

    def send(self, message: NotificationRow) -> None:
        response = self.client.post(self.url, json=message_body(message))
        response.raise_for_status()

    def close(self) -> None:
        if self.owns_client:
            self.client.close()


def make_sender(settings: Settings) -> Sender:
    """The sender ``settings.notify_sender`` names."""
    if settings.notify_sender == "webhook":
        if not settings.webhook_url:
            raise BadInput(_("QUNBANG_WEBHOOK_URL is not set"), "webhook_url")
        return WebhookSender(settings.webhook_url)
    return LogSender()


def backoff(attempts: int, rng: random.Random | None = None) -> dt.timedelta:
    """How long to wait after a message's ``attempts``-th failure: 1 min, 2, 4 … at most 1 h,
    each cut by up to ``JITTER`` at random so that messages failing together retry apart."""
    delay = min(BACKOFF_BASE * 2 ** min(max(attempts - 1, 0), 20), BACKOFF_CAP)
    return delay * (1 - JITTER * (rng or _RNG).random())


def send_pending(
    session: Session,
    settings: Settings,
    limit: int = 100,
    sender: Sender | None = None,
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> int:
    """Send up to ``limit`` due messages (pending, and never tried or past their back-off),
    oldest first; returns how many were sent. ``now`` fixes the clock (tests); ``rng`` the
    back-off's jitter."""
    if sender is None:
        sender = make_sender(settings)
        try:
            return send_pending(session, settings, limit, sender, now, rng)
        finally:
            close = getattr(sender, "close", None)
            if close is not None:
                close()
    ids = list(
        session.scalars(
            select(NotificationRow.id)
            .where(_due(now or utcnow()))
            .order_by(NotificationRow.id)
            .limit(limit)
        )
    )
    session.commit()  # end the read: nothing is held while messages go out
    return sum(_send_one(session, sender, message_id, now, rng) for message_id in ids)


def _due(now: dt.datetime) -> ColumnElement[bool]:
    return and_(
        NotificationRow.status == NotificationStatus.PENDING,
        or_(NotificationRow.next_attempt_at.is_(None), NotificationRow.next_attempt_at <= now),
    )


def _send_one(
    session: Session,
    sender: Sender,
    message_id: int,
    now: dt.datetime | None,
    rng: random.Random | None,
) -> bool:
    claimed_until = _claim(session, message_id, now or utcnow())
    if claimed_until is None:  # another sender has it, or it is no longer due
        return False
    message = session.get_one(NotificationRow, message_id, populate_existing=True)
    session.commit()
    error = ""
    try:
        sender.send(message)
    except Exception as failure:  # any sender failure is recorded on the message and retried
        error = f"{type(failure).__name__}: {failure}"[:1000]
    return _record(session, message_id, claimed_until, error, now or utcnow(), rng)


def _claim(session: Session, message_id: int, now: dt.datetime) -> dt.datetime | None:
    """Compare-and-set: move a due message's ``next_attempt_at`` to ``now + CLAIM`` so no other
    sender picks it meanwhile; that time is the claim's token (None: not claimed)."""
    until = now + CLAIM
    begin_row_write(session)
    moved = session.execute(
        update(NotificationRow)
        .where(NotificationRow.id == message_id, _due(now))
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return until if moved.rowcount == 1 else None  # type: ignore[attr-defined]


def _record(
    session: Session,
    message_id: int,
    claimed_until: dt.datetime,
    error: str,
    now: dt.datetime,
    rng: random.Random | None,
) -> bool:
    """Write the outcome if the claim still stands: sent, or one more failure with its back-off
    (``failed`` after ``MAX_ATTEMPTS``)."""
    begin_row_write(session)
    mine = (
        NotificationRow.id == message_id,
        NotificationRow.status == NotificationStatus.PENDING,
        NotificationRow.next_attempt_at == claimed_until,
    )
    attempts = session.scalar(select(NotificationRow.attempts).where(*mine))
    if attempts is None:
        session.commit()
        log.warning("notification %s: claim lost before its outcome was recorded", message_id)
        return False
    values: dict[str, Any]
    if not error:
        values = {"status": NotificationStatus.SENT, "sent_at": now, "next_attempt_at": None}
    elif attempts + 1 >= MAX_ATTEMPTS:
        values = {"status": NotificationStatus.FAILED, "next_attempt_at": None}
    else:
        values = {"next_attempt_at": now + backoff(attempts + 1, rng)}
    if error:
        values.update(attempts=attempts + 1, last_error=error)
        log.warning("notification %s failed (attempt %d): %s", message_id, attempts + 1, error)
    moved = session.execute(
        update(NotificationRow)
        .where(*mine)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return not error and moved.rowcount == 1  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- resending


def resend(session: Session, actor: Actor, notification_id: int) -> NotificationOut:
    """Staff: send a failed message in their scope again. Its attempts and back-off start over
    (the last error stays until the next try); the ticker sends it on its next round."""
    if actor.role != Role.STAFF:
        raise Forbidden(_("only staff resend messages"))
    row = session.scalars(
        _scoped(select(NotificationRow), actor).where(NotificationRow.id == notification_id)
    ).first()
    if row is None:
        raise NotFound(_("no such message"))
    if row.status != NotificationStatus.FAILED:
        raise Conflict(_("only a message that failed can be resent"), "status")
    detail = {"attempts": row.attempts, "last_error": row.last_error[:200]}
    begin_row_write(session)
    moved = session.execute(
        update(NotificationRow)
        .where(
            NotificationRow.id == notification_id,
            NotificationRow.status == NotificationStatus.FAILED,
        )
        .values(status=NotificationStatus.PENDING, attempts=0, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]  # resent by someone else meanwhile
        session.rollback()
        raise Conflict(_("the message is already being resent"), "status")
    audit(session, actor.user_id, "notification.resend", "notification", notification_id, detail)
    session.commit()
    fresh = session.get_one(NotificationRow, notification_id, populate_existing=True)
    return notification_view(fresh, _names(session, [fresh]))


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class NotificationFilters:
    """List filters, each optional; ``unsent`` keeps pending and failed messages only."""

    status: str | None = None
    kind: str | None = None
    helper_id: int | None = None
    unsent: bool = False


def list_notifications(
    session: Session,
    actor: Actor,
    filters: NotificationFilters,
    page: int = 1,
    page_size: int = 50,
) -> Page[NotificationOut]:
    """Staff: messages to helpers and users in their scope (street-wide staff also see messages
    to no one). A helper: their own messages only, whatever ``helper_id`` they ask for (see
    ``inbox`` for any user's own)."""
    stmt = _scoped(select(NotificationRow), actor)
    if filters.status is not None:
        stmt = stmt.where(NotificationRow.status == filters.status)
    if filters.unsent:
        unsent = (NotificationStatus.PENDING, NotificationStatus.FAILED)
        stmt = stmt.where(NotificationRow.status.in_(unsent))
    if filters.kind is not None:
        stmt = stmt.where(NotificationRow.kind == filters.kind)
    if filters.helper_id is not None and actor.role == Role.STAFF:
        stmt = stmt.where(NotificationRow.helper_id == filters.helper_id)
    return _page(session, stmt, page, page_size)


def inbox(
    session: Session, actor: Actor, page: int = 1, page_size: int = 50
) -> Page[NotificationOut]:
    """Any user's own messages, newest first: those to their account, and a helper account's
    also those to its helper."""
    own = NotificationRow.user_id == actor.user_id
    if actor.helper_id is not None:
        own = or_(own, NotificationRow.helper_id == actor.helper_id)
    return _page(session, select(NotificationRow).where(own), page, page_size)


def _page(session: Session, stmt: Select[Any], page: int, page_size: int) -> Page[NotificationOut]:
    rows, total = fetch_page(session, stmt.order_by(NotificationRow.id.desc()), page, page_size)
    names = _names(session, rows)
    items = [notification_view(row, names) for row in rows]
    return Page(items=items, total=total, page=page, page_size=page_size)


def _scoped(stmt: Select[Any], actor: Actor) -> Select[Any]:
    """Staff see messages whose recipient is of their street (community staff: of their
    community): a helper by their ledger row, a resident's account by the resident's, another
    account (staff) by its own scope. A helper sees their own."""
    if actor.role == Role.HELPER and actor.helper_id is not None:
        return stmt.where(NotificationRow.helper_id == actor.helper_id)
    if actor.role != Role.STAFF or actor.street_id is None:
        raise NotFound(_("not found"))
    # A message has one recipient at most (ck_notifications_one_recipient): a helper, read
    # among the street's (or community's) helpers, or an account, placed by its resident's row
    # or else its own. Only accounts that have messages are placed: joining every account to
    # the messages made the planner join a city's logins (one per helper) first.
    helpers = select(HelperRow.id).where(HelperRow.street_id == actor.street_id)
    account = aliased(UserRow)
    resident = aliased(ResidentRow)
    addressed = aliased(NotificationRow)
    accounts = (
        select(account.id)
        .outerjoin(resident, account.resident_id == resident.id)
        .where(
            account.id.in_(select(addressed.user_id).where(addressed.user_id.is_not(None))),
            func.coalesce(resident.street_id, account.street_id) == actor.street_id,
        )
    )
    if actor.community_id is not None:
        helpers = helpers.where(HelperRow.community_id == actor.community_id)
        community = func.coalesce(resident.community_id, account.community_id)
        accounts = accounts.where(community == actor.community_id)
        return stmt.where(
            or_(NotificationRow.helper_id.in_(helpers), NotificationRow.user_id.in_(accounts))
        )
    nobody = and_(NotificationRow.helper_id.is_(None), NotificationRow.user_id.is_(None))
    return stmt.where(
        or_(NotificationRow.helper_id.in_(helpers), NotificationRow.user_id.in_(accounts), nobody)
    )


def _names(session: Session, rows: Iterable[NotificationRow]) -> dict[tuple[str, int], str]:
    """The recipients' names: ("helper", id) from the ledger, ("user", id) an account's."""
    rows = list(rows)
    names: dict[tuple[str, int], str] = {}
    helpers = {row.helper_id for row in rows if row.helper_id is not None}
    if helpers:
        found = session.execute(
            select(HelperRow.id, HelperRow.name).where(HelperRow.id.in_(helpers))
        )
        names |= {("helper", helper_id): name for helper_id, name in found}
    users = {row.user_id for row in rows if row.user_id is not None}
    if users:
        accounts = session.execute(
            select(UserRow.id, UserRow.display_name, UserRow.username).where(UserRow.id.in_(users))
        )
        names |= {("user", user_id): shown or login for user_id, shown, login in accounts}
    return names


class NotificationOut(BaseModel):
    """One outbox message as staff (or its helper) see it; ``next_attempt_at`` is when a
    pending message may be tried again (None: at once)."""

    id: int
    helper_id: int | None
    helper_name: str | None = None
    user_id: int | None = None
    user_name: str | None = None
    kind: str
    text_zh: str
    text_en: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_error: str
    created_at: UtcDateTime
    sent_at: UtcDateTime | None
    next_attempt_at: UtcDateTime | None = None


def notification_view(
    row: NotificationRow, names: dict[tuple[str, int], str] | None = None
) -> NotificationOut:
    names = names or {}
    return NotificationOut(
        **message_body(row),
        helper_name=names.get(("helper", row.helper_id)) if row.helper_id is not None else None,
        user_name=names.get(("user", row.user_id)) if row.user_id is not None else None,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
        next_attempt_at=row.next_attempt_at,
    )
