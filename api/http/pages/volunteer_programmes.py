"""The volunteer's pairing programmes (``/v/programmes``, 双向自主选择): each programme they are
enrolled in, their shortlist of residents to rank (first choice first, or "not with this
person"), and their pair once Qunbang has computed it and the community confirmed it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.http.deps import SessionDep
from api.http.pages.phone import back_to, elsewhere
from api.http.pages.phone_programmes import my_programmes, parse_ranking
from api.http.pages.render import PageActor, in_language, language, render
from api.http.pages.staff_people import _labels
from api.http.params import IdPath
from api.i18n import gettext as _
from api.services.errors import ServiceError
from api.services.programmes import ranking

router = APIRouter(prefix="/v", include_in_schema=False)
FormList = Annotated[list[str], Form()]


@router.get("/programmes")
def programmes(request: Request, actor: PageActor, session: SessionDep) -> Response:
    """My programmes: the shortlist to rank and my pair."""
    if (away := elsewhere(request, actor, "helper", actor.helper_id, "v")) is not None:
        return away
    return render(request, "v/programmes.html", actor, here="programmes",
                  found=my_programmes(session, actor), **_labels(session, actor))  # fmt: skip


@router.post("/programmes/{programme_id}/rank")
def rank(
    request: Request,
    programme_id: IdPath,
    actor: PageActor,
    session: SessionDep,
    member: FormList = [],  # noqa: B006 (FastAPI copies the default)
    choice: FormList = [],  # noqa: B006
) -> Response:
    """Save my ranking."""
    if (away := elsewhere(request, actor, "helper", actor.helper_id, "v")) is not None:
        return away
    try:
        ranked, refused = parse_ranking(member, choice)
        ranking.rank_own(session, actor, programme_id, ranked, refused)
    except ServiceError as failure:
        session.rollback()
        return back_to("/v/programmes", err=in_language(language(request), failure.message))
    return back_to("/v/programmes", msg=_("Ranking saved"), anchor=f"programme-{programme_id}")
