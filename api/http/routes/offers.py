"""Offers and assignments: a helper's own (list, read, accept, decline, mark done), and staff
dispatching by hand (reassign, cancel, ranked candidates)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.http.deps import (
    HelperActor,
    SessionDep,
    SettingsDep,
    StaffActor,
    StaffOrResident,
    in_session,
)
from api.http.openapi import declared_router
from api.http.params import Id, IdPath, PageNumber, PageSize
from api.services.offers import answers as offers
from api.services.offers import dispatch
from api.services.offers.answers import DeclinedView, OfferView
from api.services.offers.dispatch import CancelView, CandidatesView, TeamView
from api.services.paging import Page
from api.services.types import Day

router = declared_router(tags=["offers"])


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=1000)


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    helper_ids: list[Id] = Field(
        min_length=1, max_length=10, json_schema_extra={"uniqueItems": True}
    )
    # Staff send a team that breaks a hard rule only with a reason (audited, shown on the run
    # page); without one such a team is refused naming the rule.
    override_reason: str = Field(default="", max_length=500)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


@router.get("/me/offers")
async def my_offers(
    request: Request,
    settings: SettingsDep,
    actor: HelperActor,
    status: Literal["live", "pending", "accepted", "declined", "expired", "withdrawn", "all"] = (
        "live"
    ),
    date_from: Day | None = None,
    date_to: Day | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[OfferView]:
    """My offers and assignments (default: pending and accepted), upcoming first. The
    resident's name, address and phone appear only on offers I accepted."""
    # The volunteers' most frequent request: one thread hop (see deps.in_session).
    return await in_session(
        request,
        offers.my_offers,
        settings,
        actor.own_helper_id(),
        status=status,
        date_from=date_from,
        date_to=date_to,
        page=page,
        page_size=page_size,
    )


@router.get("/me/offers/{offer_id}")
def get_offer(offer_id: IdPath, session: SessionDep, actor: HelperActor) -> OfferView:
    """One of my offers (anyone else's: 404)."""
    return offers.get_offer(session, actor.own_helper_id(), offer_id)


@router.post("/me/offers/{offer_id}/accept")
async def accept(
    request: Request, offer_id: IdPath, settings: SettingsDep, actor: HelperActor
) -> OfferView:
    """Accept before the respond-by deadline; accepting twice is harmless."""
    # Answers come in bursts after the nightly run: one thread hop (see deps.in_session).
    return await in_session(request, offers.accept, settings, actor.own_helper_id(), offer_id)


@router.post("/me/offers/{offer_id}/decline")
async def decline(
    request: Request,
    offer_id: IdPath,
    settings: SettingsDep,
    actor: HelperActor,
    body: DeclineIn | None = None,
) -> DeclinedView:
    """Decline; the order goes straight back to matching and someone else is asked
    (``replacement_offers``: how many were asked)."""
    reason = body.reason if body else ""
    return await in_session(
        request, offers.decline, settings, actor.own_helper_id(), offer_id, reason
    )


@router.post("/me/assignments/{assignment_id}/done")
def mark_done(
    assignment_id: IdPath, session: SessionDep, settings: SettingsDep, actor: HelperActor
) -> OfferView:
    """Mark a visit done (a member who accepted, once the whole team accepted, from the
    visit's day on)."""
    return offers.mark_done(session, settings, actor.own_helper_id(), assignment_id)


@router.post("/orders/{order_id}/reassign")
def reassign(
    order_id: IdPath,
    body: ReassignIn,
    session: SessionDep,
    settings: SettingsDep,
    actor: StaffActor,
) -> TeamView:
    """Hand the order to a team picked by staff; the current team is withdrawn and told. A team
    breaking a hard rule is refused (422, code ``rule_broken``) unless ``override_reason`` is
    given."""
    return dispatch.reassign(
        session, settings, actor, order_id, body.helper_ids, override_reason=body.override_reason
    )


@router.post("/orders/{order_id}/cancel")
def cancel(
    order_id: IdPath,
    body: CancelIn,
    session: SessionDep,
    settings: SettingsDep,
    actor: StaffOrResident,
) -> CancelView:
    """Cancel an order not yet done (staff in scope, or the resident's own account); the team's
    offers are withdrawn and each member is told."""
    return dispatch.cancel_order(session, settings, actor, order_id, body.reason)


@router.get("/orders/{order_id}/candidates")
def candidates(
    order_id: IdPath,
    session: SessionDep,
    actor: StaffActor,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> CandidatesView:
    """Helpers who could serve the order, best first, each with why."""
    return dispatch.candidates_for(session, actor, order_id, limit)
