"""A helper's claims: the orders they could take, and taking them alone, with teammates or as a
bundle. Before a claim a helper sees the item, time, community and distance, nothing personal."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import HelperActor, SessionDep, SettingsDep
from api.services import claims

router = APIRouter(prefix="/me", tags=["claims"])


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ClaimableOut(Out):
    order_id: int
    date: dt.date
    item_code: str
    item_zh: str
    item_en: str
    window_start: int | None
    window_end: int | None
    flexible: bool
    duration_min: int
    community: str
    distance_km: float
    team_size: int
    needs_teammates: bool
    points: int


class ClaimablePageOut(Out):
    items: list[ClaimableOut]
    total: int
    page: int
    page_size: int


class ClaimedOrderOut(Out):
    order_id: int
    assignment_id: int
    start_minute: int | None
    order_status: str
    members: dict[int, str] = Field(description="helper id → offer status")


class ClaimOut(Out):
    claim_id: int
    form: str
    orders: list[ClaimedOrderOut]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SingleClaimIn(In):
    order_id: int


class TeamClaimIn(In):
    order_id: int
    teammate_ids: list[int] = Field(min_length=1, max_length=20)


class BundleClaimIn(In):
    order_ids: list[int] = Field(min_length=2, max_length=claims.MAX_BUNDLE)


@router.get("/claimable")
def claimable(
    session: SessionDep,
    settings: SettingsDep,
    actor: HelperActor,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=claims.MAX_PAGE_SIZE)] = 20,
) -> ClaimablePageOut:
    """Open, unmatched orders from today on that you could serve (skills, reach, a free slot,
    room in your day); team items are marked as needing teammates."""
    found = claims.claimable_orders(
        session,
        settings,
        actor.own_helper_id(),
        date_from=date_from,
        date_to=date_to,
        page=page,
        page_size=page_size,
    )
    return ClaimablePageOut.model_validate(found)


@router.post("/claims", status_code=201)
def claim_single(
    body: SingleClaimIn, session: SessionDep, settings: SettingsDep, actor: HelperActor
) -> ClaimOut:
    """单独认领: take a one-person order alone (you accept it by claiming it)."""
    outcome = claims.claim_single(session, settings, actor.own_helper_id(), body.order_id)
    return ClaimOut.model_validate(outcome)


@router.post("/claims/team", status_code=201)
def claim_team(
    body: TeamClaimIn, session: SessionDep, settings: SettingsDep, actor: HelperActor
) -> ClaimOut:
    """集体认领: take an order with named teammates; each teammate must confirm their offer."""
    outcome = claims.claim_team(
        session, settings, actor.own_helper_id(), body.order_id, body.teammate_ids
    )
    return ClaimOut.model_validate(outcome)


@router.post("/claims/bundle", status_code=201)
def claim_bundle(
    body: BundleClaimIn, session: SessionDep, settings: SettingsDep, actor: HelperActor
) -> ClaimOut:
    """打包认领: take several orders at once, all or nothing, if they fit your day together."""
    outcome = claims.claim_bundle(session, settings, actor.own_helper_id(), body.order_ids)
    return ClaimOut.model_validate(outcome)
