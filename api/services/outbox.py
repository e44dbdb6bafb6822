"""Sending the notification outbox, and reading it.

Messages are queued by ``api.services.notify.enqueue`` in the same transaction as the change they
announce; ``send_pending`` hands them to the configured ``Sender`` — ``LogSender`` (the default:
one log line per message, no real SMS) or ``WebhookSender`` (a JSON POST). A message that fails
stays pending and is retried on the next call; after ``MAX_ATTEMPTS`` failures it is ``failed``.

Each message is sent outside any transaction (a slow webhook must not hold the database's write
lock) and its result recorded in a short transaction of its own. Delivery is at least once: if
the process dies between sending and recording, the message goes again, so a receiver should
de-duplicate by the message ``id``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.deps import Actor
from api.errors import BadInput, NotFound
from api.schemas.common import UtcDateTime
from api.schemas.ledger import Page
from api.services.ledger_views import fetch_page
from api.settings import Settings
from api.store.db import begin_write
from api.store.tables import HelperRow, NotificationRow, utcnow

log = logging.getLogger("qunbang.outbox")
notify_log = logging.getLogger("qunbang.notify")
MAX_ATTEMPTS = 5
WEBHOOK_TIMEOUT_S = 5.0


class Sender(Protocol):
    """Delivers one message; raises on failure (the outbox records the error and retries)."""

    def send(self, message: NotificationRow) -> None: ...


def message_body(message: NotificationRow) -> dict[str, Any]:
    return {
        "id": message.id,
        "helper_id": message.helper_id,
        "kind": message.kind,
        "text_zh": message.text_zh,
        "text_en": message.text_en,
        "payload": message.payload,
    }


class LogSender:
    """Writes one line per message to the ``qunbang.notify`` log (no SMS leaves the server)."""

    def send(self, message: NotificationRow) -> None:
        notify_log.info(
            "notify id=%s helper=%s kind=%s: %s",
            message.id,
            message.helper_id,
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
            raise BadInput("未配置 webhook 地址 / QUNBANG_WEBHOOK_URL is not set", "webhook_url")
        return WebhookSender(settings.webhook_url)
    return LogSender()


def send_pending(
    session: Session,
    settings: Settings,
    limit: int = 100,
    sender: Sender | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Send up to ``limit`` pending messages, oldest first; returns how many were sent."""
    if sender is None:
        sender = make_sender(settings)
        try:
            return send_pending(session, settings, limit, sender, now)
        finally:
            close = getattr(sender, "close", None)
            if close is not None:
                close()
    ids = list(
        session.scalars(
            select(NotificationRow.id)
            .where(NotificationRow.status == "pending")
            .order_by(NotificationRow.id)
            .limit(limit)
        )
    )
    session.commit()  # end the read: nothing is held while messages go out
    return sum(_send_one(session, sender, message_id, now) for message_id in ids)


def _send_one(session: Session, sender: Sender, message_id: int, now: dt.datetime | None) -> bool:
    message = session.get(NotificationRow, message_id)
    if message is None or message.status != "pending":
        return False
    session.commit()
    error = ""
    try:
        sender.send(message)
    except Exception as failure:  # any sender failure is recorded on the message and retried
        error = f"{type(failure).__name__}: {failure}"[:1000]
    begin_write(session)
    message = session.get(NotificationRow, message_id, populate_existing=True, with_for_update=True)
    if message is None or message.status != "pending":  # another sender recorded it meanwhile
        session.commit()
        return False
    if error:
        message.attempts += 1
        message.last_error = error
        message.status = "failed" if message.attempts >= MAX_ATTEMPTS else "pending"
        log.warning("notification %s failed (attempt %d): %s", message.id, message.attempts, error)
    else:
        message.status, message.sent_at = "sent", now or utcnow()
    session.commit()
    return not error


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class NotificationFilters:
    status: str | None = None
    kind: str | None = None
    helper_id: int | None = None


def list_notifications(
    session: Session,
    actor: Actor,
    filters: NotificationFilters,
    page: int = 1,
    page_size: int = 50,
) -> Page[NotificationOut]:
    """Staff: messages to helpers in their scope (street-wide staff also see messages to no
    one). A helper: their own messages only, whatever ``helper_id`` they ask for."""
    stmt = _scoped(select(NotificationRow), actor)
    if filters.status is not None:
        stmt = stmt.where(NotificationRow.status == filters.status)
    if filters.kind is not None:
        stmt = stmt.where(NotificationRow.kind == filters.kind)
    if filters.helper_id is not None and actor.role == "staff":
        stmt = stmt.where(NotificationRow.helper_id == filters.helper_id)
    rows, total = fetch_page(session, stmt.order_by(NotificationRow.id.desc()), page, page_size)
    items = [notification_view(row) for row in rows]
    return Page(items=items, total=total, page=page, page_size=page_size)


def _scoped(stmt: Select[Any], actor: Actor) -> Select[Any]:
    if actor.role == "helper" and actor.helper_id is not None:
        return stmt.where(NotificationRow.helper_id == actor.helper_id)
    if actor.role != "staff" or actor.street_id is None:
        raise NotFound("未找到 / not found")
    stmt = stmt.outerjoin(HelperRow, NotificationRow.helper_id == HelperRow.id)
    in_scope = HelperRow.street_id == actor.street_id
    if actor.community_id is not None:
        return stmt.where(in_scope, HelperRow.community_id == actor.community_id)
    return stmt.where(in_scope | NotificationRow.helper_id.is_(None))


class NotificationOut(BaseModel):
    """One outbox message as staff (or its helper) see it."""

    id: int
    helper_id: int | None
    kind: str
    text_zh: str
    text_en: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_error: str
    created_at: UtcDateTime
    sent_at: UtcDateTime | None


def notification_view(row: NotificationRow) -> NotificationOut:
    return NotificationOut(
        **message_body(row),
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )
