"""Helpers in the ledger (staff: full records; planners: without personal data) and a helper's
own profile (``/me``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from api.http.deps import HelperActor, SessionDep, SettingsDep, StaffActor, StaffOrPlanner
from api.http.openapi import declared_router
from api.http.params import IdFilter, IdPath, PageNumber, PageSize
from api.services.ledger import people as ledger
from api.services.ledger.models import (
    HelperIn,
    HelperOut,
    HelperPage,
    HelperPatch,
    HelperSelfPatch,
    Page,
)
from api.services.ledger.views import LedgerFilters
from matcher.model import HelperKind

router = declared_router(tags=["helpers"])


@router.get("/helpers", response_model=HelperPage)
def list_helpers(
    session: SessionDep,
    actor: StaffOrPlanner,
    community_id: IdFilter = None,
    grid_id: IdFilter = None,
    kind: HelperKind | None = None,
    skill: str | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=100, description="name, code")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[Any]:
    """Helpers in your scope. Planners get the public view (no name, phone, address or exact
    location) and search by ledger code only."""
    filters = LedgerFilters(community_id, grid_id, kind, skill, active, q)
    return ledger.list_helpers(session, actor, filters, page, page_size)


@router.post("/helpers", status_code=201)
def create_helper(body: HelperIn, session: SessionDep, actor: StaffActor) -> HelperOut:
    """Add a helper to a community in your scope."""
    return ledger.create_helper(session, actor, body)


@router.get("/helpers/{helper_id}")
def get_helper(helper_id: IdPath, session: SessionDep, actor: StaffActor) -> HelperOut:
    """One helper with every field; 404 outside your scope."""
    return ledger.get_helper(session, actor, helper_id)


@router.patch("/helpers/{helper_id}")
def update_helper(
    helper_id: IdPath,
    body: HelperPatch,
    session: SessionDep,
    settings: SettingsDep,
    actor: StaffActor,
) -> HelperOut:
    """Change some of a helper's fields; the ledger code stays. Visits from today on the
    helper can no longer serve are taken off them and re-matched."""
    return ledger.update_helper(session, settings, actor, helper_id, body)


@router.post("/helpers/{helper_id}/deactivate")
def deactivate_helper(
    helper_id: IdPath, session: SessionDep, settings: SettingsDep, actor: StaffActor
) -> HelperOut:
    """Deactivate a helper (never deleted); their live offers from today on are withdrawn."""
    return ledger.deactivate_helper(session, settings, actor, helper_id)


@router.get("/me")
def my_profile(session: SessionDep, actor: HelperActor) -> HelperOut:
    """Your own helper profile."""
    return ledger.my_profile(session, actor)


@router.patch("/me")
def update_my_profile(
    body: HelperSelfPatch, session: SessionDep, settings: SettingsDep, actor: HelperActor
) -> HelperOut:
    """Change your phone, availability or service radius (at most 20 km). A change that would
    rule out a visit you accepted is refused (409) naming its day: step back from it first."""
    return ledger.update_my_profile(session, settings, actor, body)
