"""Points (积分): helpers read their own; staff read their street's helpers and grant bonuses
(组织赠分) or reverse an entry. The ledger is append-only."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.http.deps import HelperActor, SessionDep, StaffActor
from api.http.openapi import declared_router
from api.http.params import Id, IdPath, PageNumber, PageSize
from api.i18n import gettext as _
from api.services.closing import points
from api.services.closing.points import MAX_BONUS, MAX_REASON, EntryView, PointsHistory

router = declared_router(tags=["points"])


def json_integer(value: object) -> object:
    """A JSON integer, as JSON Schema counts them (5 and 5.0), but not "5" or true."""
    if isinstance(value, bool | str):
        raise ValueError(_("must be a whole number"))
    return value


class BonusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    helper_id: Id
    amount: Annotated[int, BeforeValidator(json_integer)] = Field(
        gt=0, le=MAX_BONUS, description=f"whole points, 1…{MAX_BONUS}"
    )
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    order_id: Id | None = None


class ReverseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=MAX_REASON)


@router.get("/me/points")
def my_points(
    session: SessionDep, actor: HelperActor, page: PageNumber = 1, page_size: PageSize = 50
) -> PointsHistory:
    """Your balance and your entries, newest first."""
    return points.history(session, actor, actor.own_helper_id(), page, page_size)


@router.get("/helpers/{helper_id}/points")
def helper_points(
    helper_id: IdPath,
    session: SessionDep,
    actor: StaffActor,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> PointsHistory:
    """A helper's balance and entries (helpers of your street)."""
    return points.history(session, actor, helper_id, page, page_size)


@router.post("/points/bonus", status_code=201)
def grant_bonus(body: BonusIn, session: SessionDep, actor: StaffActor) -> EntryView:
    """Grant a helper points from the organisation (组织赠分), with a reason."""
    return points.grant_bonus(
        session, actor, body.helper_id, body.amount, body.reason, body.order_id
    )


@router.post("/points/{entry_id}/reverse", status_code=201)
def reverse_entry(
    entry_id: IdPath, body: ReverseIn, session: SessionDep, actor: StaffActor
) -> EntryView:
    """Correct an entry by adding its opposite (at most once per entry)."""
    return points.reverse_entry(session, actor, entry_id, body.reason)
