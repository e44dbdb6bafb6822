"""The audit log: who read or changed what."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.store.tables import AuditEntry


def audit(
    session: Session,
    user_id: int | None,
    action: str,
    entity: str,
    entity_id: object = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the session's transaction (it commits with the change it records)."""
    session.add(
        AuditEntry(
            user_id=user_id,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            detail=detail or {},
        )
    )
