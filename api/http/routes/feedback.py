"""Feedback on a done visit (1-5 and a comment), given by staff on the resident's behalf or by
the resident account; a low score schedules a follow-up visit."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.http.deps import SessionDep, SettingsDep, StaffOrResident
from api.http.openapi import declared_router
from api.http.params import IdPath
from api.services.closing import visits as closing
from api.services.closing.visits import FeedbackView

router = declared_router(tags=["feedback"])


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5, description="满意度 satisfaction, 1 (poor) … 5 (very good)")
    comment: str = Field(default="", max_length=2000)


@router.post("/orders/{order_id}/feedback", status_code=201)
def give_feedback(
    order_id: IdPath,
    body: FeedbackIn,
    session: SessionDep,
    settings: SettingsDep,
    actor: StaffOrResident,
) -> FeedbackView:
    """Record the resident's satisfaction with a done order, once per order."""
    return closing.give_feedback(session, settings, actor, order_id, body.score, body.comment)
