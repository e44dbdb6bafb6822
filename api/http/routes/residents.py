"""Residents in the ledger: staff read full records (every read audited); planners list them
without personal data; helpers and residents get 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from api.http.deps import SessionDep, SettingsDep, StaffActor, StaffOrPlanner
from api.http.openapi import declared_router
from api.http.params import IdFilter, IdPath, PageNumber, PageSize
from api.services.ledger import people as ledger
from api.services.ledger.models import (
    CategoryCounts,
    Page,
    ResidentIn,
    ResidentOut,
    ResidentPage,
    ResidentPatch,
)
from api.services.ledger.views import LedgerFilters
from matcher.model import ResidentCategory

router = declared_router(tags=["residents"])


@router.get("/residents", response_model=ResidentPage)
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
) -> Page[Any]:
    """Residents in your scope. Staff pages are audited; planners get the public view (no
    name, ID-card tail, phone, address, exact location or category), search by ledger code
    only and may not filter by category (403; see ``/residents/categories``)."""
    filters = LedgerFilters(community_id, grid_id, category, None, active, q)
    return ledger.list_residents(session, actor, filters, page, page_size)


@router.get("/residents/categories")
def resident_categories(
    session: SessionDep,
    actor: StaffOrPlanner,
    community_id: IdFilter = None,
    grid_id: IdFilter = None,
    active: bool | None = None,
) -> CategoryCounts:
    """How many residents of each category are in your scope: what planners see instead of
    each resident's category."""
    filters = LedgerFilters(community_id, grid_id, None, None, active)
    return ledger.category_counts(session, actor, filters)


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
