"""The notification outbox: messages are written in the same transaction as the change they
announce, and sent later by the configured sender (see ``send_pending``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.store.tables import NotificationRow


def enqueue(
    session: Session,
    *,
    helper_id: int | None = None,
    user_id: int | None = None,
    kind: str,
    text_zh: str,
    text_en: str,
    payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> NotificationRow | None:
    """Add a message for a helper or a user (at most one of them; neither: a message to no one,
    which street staff see) to the outbox; a message whose ``dedupe_key`` exists already is
    skipped."""
    if dedupe_key is not None and session.scalar(
        select(NotificationRow.id).where(NotificationRow.dedupe_key == dedupe_key)
    ):
        return None
    row = NotificationRow(
        helper_id=helper_id,
        user_id=user_id,
        kind=kind,
        text_zh=text_zh,
        text_en=text_en,
        payload=payload or {},
        dedupe_key=dedupe_key,
    )
    session.add(row)
    return row
