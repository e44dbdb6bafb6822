"""Reading the audit log (writing is ``api.services.accounts.audit.audit``).

Only street-wide staff read it: it records every street's changes and reads, so it is narrowed
to entries made by accounts of the caller's street (staff, planners, and the helper and resident
accounts of its ledger) and entries made by no account (the system, the command line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import Forbidden
from api.services.ledger.views import fetch_page
from api.services.paging import Page
from api.services.types import UtcDateTime
from api.store.tables import AuditEntry, HelperRow, ResidentRow, UserRow


@dataclass(frozen=True)
class AuditFilters:
    entity: str | None = None
    entity_id: str | None = None
    action: str | None = None
    user_id: int | None = None


class AuditOut(BaseModel):
    id: int
    at: UtcDateTime
    user_id: int | None
    username: str | None
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]


def list_audit(
    session: Session, actor: Actor, filters: AuditFilters, page: int = 1, page_size: int = 50
) -> Page[AuditOut]:
    """Audit entries of the caller's street, newest first."""
    if actor.role != "staff" or actor.street_id is None or actor.community_id is not None:
        raise Forbidden(_("only street-wide staff read the audit log"))
    helper, resident = aliased(HelperRow), aliased(ResidentRow)
    street = func.coalesce(UserRow.street_id, helper.street_id, resident.street_id)
    stmt = (
        select(AuditEntry)
        .outerjoin(UserRow, AuditEntry.user_id == UserRow.id)
        .outerjoin(helper, UserRow.helper_id == helper.id)
        .outerjoin(resident, UserRow.resident_id == resident.id)
        .where(or_(AuditEntry.user_id.is_(None), street == actor.street_id))
    )
    for column, value in (
        (AuditEntry.entity, filters.entity),
        (AuditEntry.entity_id, filters.entity_id),
        (AuditEntry.action, filters.action),
        (AuditEntry.user_id, filters.user_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    entries, total = fetch_page(session, stmt.order_by(AuditEntry.id.desc()), page, page_size)
    user_ids = {entry.user_id for entry in entries if entry.user_id is not None}
    names = select(UserRow.id, UserRow.username).where(UserRow.id.in_(user_ids))
    usernames = {user_id: name for user_id, name in session.execute(names)}
    items = [_view(entry, usernames.get(entry.user_id or 0)) for entry in entries]
    return Page(items=items, total=total, page=page, page_size=page_size)


def _view(entry: AuditEntry, username: str | None) -> AuditOut:
    return AuditOut(
        id=entry.id,
        at=entry.at,
        user_id=entry.user_id,
        username=username,
        action=entry.action,
        entity=entry.entity,
        entity_id=entry.entity_id,
        detail=entry.detail,
    )
