"""A resident's micro-wishes (``/r/wishes``): post a small wish (a thing or a small service),
see who took it up, withdraw one. A family account acts for its resident here too. The
community sets the points a wish is worth and confirms it fulfilled."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.http.deps import SessionDep
from api.http.pages.phone import back_to
from api.http.pages.render import PageActor, in_language, language, render
from api.http.pages.resident import _away, acting
from api.http.params import IdPath, page_from_query
from api.i18n import gettext as _
from api.services.errors import ServiceError
from api.services.wishes import board

router = APIRouter(prefix="/r", include_in_schema=False)
WISHES_PER_PAGE = 20


@router.get("/wishes")
def my_wishes(request: Request, actor: PageActor, session: SessionDep, page: str = "1") -> Response:
    """My wishes, newest first, and the form to post one."""
    actor = acting(request, session, actor)
    if (away := _away(request, actor)) is not None:
        return away
    found = board.board(session, actor, page=page_from_query(page), page_size=WISHES_PER_PAGE)
    return render(
        request,
        "r/wishes.html",
        actor,
        here="wishes",
        found=found,
        title_max=board.MAX_TITLE,
        detail_max=board.MAX_DETAIL,
    )


@router.post("/wishes")
def post(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    title: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "thing",
    detail: Annotated[str, Form()] = "",
) -> Response:
    actor = acting(request, session, actor)
    if (away := _away(request, actor)) is not None:
        return away
    try:
        board.post_wish(session, actor, title, kind, detail)
    except ServiceError as error:
        session.rollback()
        return back_to("/r/wishes", err=in_language(language(request), error.message))
    return back_to("/r/wishes", msg=_("Your wish is on the board"))


@router.post("/wishes/{wish_id}/cancel")
def cancel(wish_id: IdPath, request: Request, actor: PageActor, session: SessionDep) -> Response:
    actor = acting(request, session, actor)
    if (away := _away(request, actor)) is not None:
        return away
    try:
        board.cancel_wish(session, actor, wish_id)
    except ServiceError as error:
        session.rollback()
        return back_to("/r/wishes", err=in_language(language(request), error.message))
    return back_to("/r/wishes", msg=_("Wish withdrawn"))
