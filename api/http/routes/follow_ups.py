"""Follow-up visits (回访) scheduled by the street's rules and low feedback scores: staff list,
move and complete them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Body
from pydantic import BaseModel, ConfigDict, Field

from api.http.deps import SessionDep, SettingsDep, StaffActor
from api.http.openapi import declared_router
from api.http.params import IdPath, PageNumber, PageSize
from api.services.closing import visits as closing
from api.services.closing.visits import FollowUpView
from api.services.paging import Page
from api.services.types import Day

router = declared_router(tags=["follow-ups"])


class FollowUpDoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notes: str = Field(default="", max_length=4000, description="what the visit found")


@router.get("/follow-ups")
def list_follow_ups(
    session: SessionDep,
    settings: SettingsDep,
    actor: StaffActor,
    status: Literal["scheduled", "done", "overdue", "mine"] | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[FollowUpView]:
    """Follow-up visits in your scope, soonest due first (``overdue``: still to do, past due;
    ``mine``: still to do, yours)."""
    return closing.list_follow_ups(session, actor, status, page, page_size, settings)


@router.post("/follow-ups/{follow_up_id}/done")
def complete_follow_up(
    follow_up_id: IdPath,
    session: SessionDep,
    actor: StaffActor,
    body: Annotated[FollowUpDoneIn | None, Body()] = None,
) -> FollowUpView:
    """Record that the follow-up visit took place."""
    return closing.complete_follow_up(session, actor, follow_up_id, body.notes if body else "")


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_date: Day = Field(description="the new day: today (street time) to a year ahead")


@router.post("/follow-ups/{follow_up_id}/reschedule")
def reschedule_follow_up(
    follow_up_id: IdPath,
    body: RescheduleIn,
    session: SessionDep,
    settings: SettingsDep,
    actor: StaffActor,
) -> FollowUpView:
    """Move a follow-up visit still to do to another day."""
    return closing.reschedule_follow_up(session, settings, actor, follow_up_id, body.due_date)
