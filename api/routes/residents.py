"""Residents in the ledger: staff read full records (every read audited); planners list them
without personal data; helpers and residents get 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.deps import SessionDep, SettingsDep, StaffActor, StaffOrPlanner
from api.openapi import declared_router
from api.params import IdFilter, IdPath, PageNumber, PageSize
from api.schemas.ledger import ResidentIn, ResidentOut, ResidentPage, ResidentPatch
from api.services import ledger
from api.services.ledger_views import LedgerFilters
from matcher.model import ResidentCategory

router = declared_router(tags=["residents"])


@router.get("/residents")
def list_residents(
    session: SessionDep,
    actor: StaffOrPlanner,
    community_id: IdFilter = None,
    grid_id: IdFilter = None,
    category: ResidentCategory | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=100, description="name, code, ID-card tail")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> ResidentPage:
    """Residents in your scope. Staff pages are audited; planners get the public view (no
    name, ID-card tail, phone, address or exact location) and search by ledger code only."""
    filters = LedgerFilters(community_id, grid_id, category, None, active, q)
    return ledger.list_residents(session, actor, filters, page, page_size)


@router.post("/residents", status_code=201)
def create_resident(body: ResidentIn, session: SessionDep, actor: StaffActor) -> ResidentOut:
    """Add a resident to a community in your scope."""
    return ledger.create_resident(session, actor, body)


@router.get("/residents/{resident_id}")
def get_resident(resident_id: IdPath, session: SessionDep, actor: StaffActor) -> ResidentOut:
    """One resident with every field; the read is audited; 404 outside your scope."""
    return ledger.get_resident(session, actor, resident_id)


@router.patch("/residents/{resident_id}")
def update_resident(
    resident_id: IdPath, body: ResidentPatch, session: SessionDep, actor: StaffActor
) -> ResidentOut:
    """Change some of a resident's fields; the ledger code stays."""
    return ledger.update_resident(session, actor, resident_id, body)


@router.post("/residents/{resident_id}/deactivate")
def deactivate_resident(
    resident_id: IdPath, session: SessionDep, settings: SettingsDep, actor: StaffActor
) -> ResidentOut:
    """Deactivate a resident (never deleted); their orders from today on are cancelled."""
    return ledger.deactivate_resident(session, settings, actor, resident_id)
