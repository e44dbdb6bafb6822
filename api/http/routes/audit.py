"""The audit log: who read or changed what (street-wide staff)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.http.deps import SessionDep, StaffActor
from api.http.openapi import declared_router
from api.http.params import IdFilter, PageNumber, PageSize
from api.services.accounts import audit_log
from api.services.accounts.audit_log import AuditFilters, AuditOut
from api.services.paging import Page

router = declared_router(tags=["audit"])


@router.get("/audit")
def list_audit(
    session: SessionDep,
    actor: StaffActor,
    entity: Annotated[str | None, Query(max_length=32, description="e.g. resident")] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. resident.read")] = None,
    user_id: IdFilter = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[AuditOut]:
    """Audit entries of your street, newest first; community staff get 403."""
    filters = AuditFilters(entity, entity_id, action, user_id)
    return audit_log.list_audit(session, actor, filters, page, page_size)
