"""The resident's pairing programmes (``/r/programmes``, 双向自主选择), for a resident account or a
family account (a guardian) acting for one: each programme the resident is enrolled in, the
shortlist of helpers to rank, and the pair once confirmed by the community."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.http.deps import SessionDep
from api.http.pages.phone import back_to
from api.http.pages.phone_programmes import my_programmes, parse_ranking
from api.http.pages.render import PageActor, in_language, language, render
from api.http.pages.resident import _away, acting
from api.http.pages.staff_people import _labels
from api.http.params import IdPath
from api.i18n import gettext as _
from api.services.errors import ServiceError
from api.services.programmes import ranking

router = APIRouter(prefix="/r", include_in_schema=False)
FormList = Annotated[list[str], Form()]


@router.get("/programmes")
def programmes(request: Request, actor: PageActor, session: SessionDep) -> Response:
    """The resident's programmes: the shortlist to rank and the pair."""
    resident = acting(request, session, actor)
    if (away := _away(request, resident)) is not None:
        return away
    return render(request, "r/programmes.html", resident, here="programmes",
                  found=my_programmes(session, resident), **_labels(session, resident))  # fmt: skip


@router.post("/programmes/{programme_id}/rank")
def rank(
    request: Request,
    programme_id: IdPath,
    actor: PageActor,
    session: SessionDep,
    member: FormList = [],  # noqa: B006 (FastAPI copies the default)
    choice: FormList = [],  # noqa: B006
) -> Response:
    """Save the resident's ranking."""
    resident = acting(request, session, actor)
    if (away := _away(request, resident)) is not None:
        return away
    try:
        ranked, refused = parse_ranking(member, choice)
        ranking.rank_own(session, resident, programme_id, ranked, refused)
    except ServiceError as failure:
        session.rollback()
        return back_to("/r/programmes", err=in_language(language(request), failure.message))
    return back_to("/r/programmes", msg=_("Ranking saved"), anchor=f"programme-{programme_id}")
