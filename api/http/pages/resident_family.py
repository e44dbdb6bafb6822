"""A family account's own page (``/r/family``, 亲情代理): the residents it is linked to (approved,
waiting or rejected), which one it orders for now, and a request to order for another resident
(the resident's code and the last 4 digits of their phone; community staff approve it). The
resident pages (``/r/``) then serve the chosen resident (``resident.acting``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.http.deps import SessionDep
from api.http.pages.phone import back_to, elsewhere
from api.http.pages.render import PageActor, in_language, language, render
from api.http.pages.resident import FOR_COOKIE, acting
from api.i18n import gettext as _
from api.services.errors import ServiceError
from api.services.intake import family

router = APIRouter(prefix="/r", include_in_schema=False)
FormText = Annotated[str, Form()]


@router.get("/family")
def links(request: Request, actor: PageActor, session: SessionDep) -> Response:
    """The residents this family account orders for, and a form to ask for another."""
    if (away := elsewhere(request, actor, "family", actor.user_id, "r")) is not None:
        return away
    current = acting(request, session, actor)
    return render(request, "r/family.html", current, here="family",
                  links=family.my_links(session, actor))  # fmt: skip


@router.post("/family/link")
def ask(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    code: FormText = "",
    phone_tail: FormText = "",
    relation: FormText = "",
) -> Response:
    """Ask to order for another resident; the request waits for community staff."""
    if (away := elsewhere(request, actor, "family", actor.user_id, "r")) is not None:
        return away
    try:
        family.request_link(session, actor, code, phone_tail, relation)
    except ServiceError as failure:
        session.rollback()
        return back_to("/r/family", err=in_language(language(request), failure.message))
    return back_to("/r/family", msg=_("Asked. The community will check and approve it."))


@router.post("/for")
def choose(
    request: Request, actor: PageActor, session: SessionDep, resident_id: FormText = ""
) -> Response:
    """Order for another of the linked residents (an approved link only; else nothing changes)."""
    if (away := elsewhere(request, actor, "family", actor.user_id, "r")) is not None:
        return away
    wanted = int(resident_id) if resident_id.isdigit() else None
    chosen = family.acting_for(session, actor, wanted).resident_id
    if chosen is None or chosen != wanted:
        return back_to("/r/family", err=_("You cannot order for this person yet"))
    response = back_to("/r/")
    settings = request.app.state.settings
    response.set_cookie(FOR_COOKIE, str(chosen), httponly=True, samesite="strict",
                        secure=settings.https)  # fmt: skip
    return response
