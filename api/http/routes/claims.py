"""A helper's claims: the orders they could take, and taking them alone, with teammates or as a
bundle. Before a claim a helper sees the item, time, community and distance, nothing personal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from api.http.deps import HelperActor, SessionDep, SettingsDep
from api.http.openapi import declared_router
from api.http.params import Id, PageNumber
from api.services import claims
from api.services.claims import ClaimableOrder, ClaimOutcome
from api.services.paging import Page
from api.services.types import Day

router = declared_router(prefix="/me", tags=["claims"])


# Repeats are refused by the service (422 naming the field); the schema says so up front.
DISTINCT: JsonDict = {"uniqueItems": True}


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SingleClaimIn(In):
    order_id: Id


class TeamClaimIn(In):
    order_id: Id
    teammate_ids: list[Id] = Field(min_length=1, max_length=20, json_schema_extra=DISTINCT)


class BundleClaimIn(In):
    order_ids: list[Id] = Field(
        min_length=2, max_length=claims.MAX_BUNDLE, json_schema_extra=DISTINCT
    )


@router.get("/claimable")
def claimable(
    session: SessionDep,
    settings: SettingsDep,
    actor: HelperActor,
    date_from: Day | None = None,
    date_to: Day | None = None,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=claims.MAX_PAGE_SIZE)] = 20,
) -> Page[ClaimableOrder]:
    """Open, unmatched orders from today on that you could serve (skills, reach, a free slot,
    room in your day); team items are marked as needing teammates."""
    return claims.claimable_orders(
        session,
        settings,
        actor.own_helper_id(),
        date_from=date_from,
        date_to=date_to,
        page=page,
        page_size=page_size,
    )


@router.post("/claims", status_code=201)
def claim_single(
    body: SingleClaimIn, session: SessionDep, settings: SettingsDep, actor: HelperActor
) -> ClaimOutcome:
    """单独认领: take a one-person order alone (you accept it by claiming it)."""
    return claims.claim_single(session, settings, actor.own_helper_id(), body.order_id)


@router.post("/claims/team", status_code=201)
def claim_team(
    body: TeamClaimIn, session: SessionDep, settings: SettingsDep, actor: HelperActor
) -> ClaimOutcome:
    """集体认领: take an order with named teammates; each teammate must confirm their offer."""
    return claims.claim_team(
        session, settings, actor.own_helper_id(), body.order_id, body.teammate_ids
    )


@router.post("/claims/bundle", status_code=201)
def claim_bundle(
    body: BundleClaimIn, session: SessionDep, settings: SettingsDep, actor: HelperActor
) -> ClaimOutcome:
    """打包认领: take several orders at once, all or nothing, if they fit your day together."""
    return claims.claim_bundle(session, settings, actor.own_helper_id(), body.order_ids)
